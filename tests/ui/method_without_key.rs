use memocache::cached;

pub struct Catalog {
    pub markup: u64,
}

impl Catalog {
    #[cached(size = 100)]
    pub fn price(&self, id: u64) -> u64 {
        id * self.markup
    }
}

fn main() {}
