use memocache::cached;

struct Report {
    total: u64,
}

#[cached]
fn report(day: u64) -> Report {
    Report { total: day }
}

#[cached]
fn checked_report(day: u64) -> Result<Report, String> {
    Ok(Report { total: day })
}

fn main() {
    let _ = report(1).total;
}
