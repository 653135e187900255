use memocache::cached;

pub struct Point {
    pub x: i64,
    pub y: i64,
}

#[cached]
fn norm(Point { x, y }: Point) -> i64 {
    x.abs() + y.abs()
}

fn main() {}
