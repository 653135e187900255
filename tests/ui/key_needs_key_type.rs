use memocache::cached;

pub struct User {
    pub id: u64,
    pub name: String,
}

#[cached(key = user.id)]
fn greeting(user: &User) -> String {
    format!("hello {}", user.name)
}

fn main() {}
