use memocache::cached;

// `returns` chooses between "result" and "plain": an `Option` needs no option.
#[cached(returns = "option")]
fn find(id: u64) -> Option<u64> {
    Some(id)
}

#[cached(returns = "reslut")]
fn load(id: u64) -> Result<u64, String> {
    Ok(id)
}

// A tuple is no `Result`, whatever `returns` says.
#[cached(returns = "result")]
fn pair(id: u64) -> (u64, u64) {
    (id, id)
}

// "plain" caches errors too, so there is no error to serve a stale value for.
#[cached(returns = "plain", stale_if_error)]
fn fetch(id: u64) -> Result<u64, String> {
    Ok(id)
}

// The type checker cannot look at `Resp<'a>` (it borrows), and no type
// argument of it says what its `Ok` type is.
type Resp<'a> = Result<u64, &'a str>;

#[cached(returns = "result")]
fn parse<'a>(text: &'a str) -> Resp<'a> {
    text.parse().map_err(|_| text)
}

fn main() {}
