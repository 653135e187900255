//! With feature `tracing`, each load (a miss that ran the function) emits
//! one debug event with its namespace, time and outcome; a hit emits none.
//!
//! Alone in its binary: tracing caches each call site's interest, and a
//! load on another test's thread could register the site before this
//! test's subscriber exists.
#![cfg(feature = "tracing")]

use std::sync::Arc;

use memocache::cached;

#[test]
fn a_load_emits_one_debug_event_with_its_namespace_and_time_and_a_hit_none() {
    use std::fmt::{Debug, Write};
    use std::sync::Mutex;

    use tracing::field::{Field, Visit};
    use tracing::{span, Event, Level, Metadata, Subscriber};

    /// Keeps the fields of every event of memocache's target.
    #[derive(Clone, Default)]
    struct Events(Arc<Mutex<Vec<String>>>);

    struct Fields(String);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
            write!(self.0, "{}={:?} ", field.name(), value).unwrap();
        }
    }

    impl Subscriber for Events {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.target() == "memocache"
        }
        fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
            span::Id::from_u64(1)
        }
        fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
        fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
        fn event(&self, event: &Event<'_>) {
            assert_eq!(*event.metadata().level(), Level::DEBUG);
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            self.0.lock().unwrap().push(fields.0);
        }
        fn enter(&self, _: &span::Id) {}
        fn exit(&self, _: &span::Id) {}
    }

    #[cached(namespace = "registry::traced")]
    fn traced(n: u64) -> u64 {
        n + 1
    }

    let events = Events::default();
    tracing::subscriber::with_default(events.clone(), || {
        traced(1);
        traced(1);
    });
    let events = events.0.lock().unwrap();
    assert_eq!(
        events.len(),
        1,
        "one load, no event for the hit: {events:?}"
    );
    assert!(
        events[0].contains("namespace=\"registry::traced\""),
        "{}",
        events[0]
    );
    assert!(events[0].contains("load_time="), "{}", events[0]);
    assert!(events[0].contains("failed=false"), "{}", events[0]);
}
