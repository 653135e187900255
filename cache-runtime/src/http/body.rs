//! The body of an answer of the cache, and collecting a handler's body once,
//! within a size bound, without ever buffering a stream of unknown length.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use pin_project_lite::pin_project;

/// The error type of [`CacheBody`]: the handler's body error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pin_project! {
    /// The body of a response that went through the cache: a cached body, no
    /// body (a `304`, a `HEAD`), or the handler's own body, passed through
    /// untouched (with what the cache read of it first, if it read any).
    pub struct CacheBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Full { data: Option<Bytes> },
        Empty,
        Passthrough { #[pin] inner: B },
        Replay {
            frames: VecDeque<Frame<Bytes>>,
            error: Option<BoxError>,
            rest: Pin<Box<B>>,
            rest_done: bool,
        },
    }
}

impl<B> CacheBody<B> {
    /// A body of these bytes.
    pub(crate) fn full(data: Bytes) -> Self {
        Self {
            kind: Kind::Full {
                data: (!data.is_empty()).then_some(data),
            },
        }
    }

    /// No body.
    pub(crate) fn empty() -> Self {
        Self { kind: Kind::Empty }
    }

    /// The handler's body, untouched.
    pub(crate) fn passthrough(inner: B) -> Self {
        Self {
            kind: Kind::Passthrough { inner },
        }
    }

    /// Frames already read from `rest`, then an error it gave (if any), then
    /// the rest of it.
    fn replay(frames: VecDeque<Frame<Bytes>>, error: Option<BoxError>, rest: Pin<Box<B>>) -> Self {
        let rest_done = error.is_some();
        Self {
            kind: Kind::Replay {
                frames,
                error,
                rest,
                rest_done,
            },
        }
    }
}

impl<B> Body for CacheBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project().kind.project() {
            KindProj::Full { data } => Poll::Ready(data.take().map(|data| Ok(Frame::data(data)))),
            KindProj::Empty => Poll::Ready(None),
            KindProj::Passthrough { inner } => inner.poll_frame(cx).map_err(Into::into),
            KindProj::Replay {
                frames,
                error,
                rest,
                rest_done,
            } => {
                if let Some(frame) = frames.pop_front() {
                    return Poll::Ready(Some(Ok(frame)));
                }
                if let Some(error) = error.take() {
                    return Poll::Ready(Some(Err(error)));
                }
                if *rest_done {
                    return Poll::Ready(None);
                }
                rest.as_mut().poll_frame(cx).map_err(Into::into)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full { data } => data.is_none(),
            Kind::Empty => true,
            Kind::Passthrough { inner } => inner.is_end_stream(),
            Kind::Replay {
                frames,
                error,
                rest,
                rest_done,
            } => frames.is_empty() && error.is_none() && (*rest_done || rest.is_end_stream()),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Passthrough { inner } => inner.size_hint(),
            Kind::Replay {
                frames,
                rest,
                rest_done,
                ..
            } => {
                let buffered: u64 = frames
                    .iter()
                    .filter_map(Frame::data_ref)
                    .map(|data| data.len() as u64)
                    .sum();
                let rest = if *rest_done {
                    SizeHint::with_exact(0)
                } else {
                    rest.size_hint()
                };
                let mut hint = SizeHint::new();
                hint.set_lower(buffered + rest.lower());
                if let Some(upper) = rest.upper() {
                    hint.set_upper(buffered + upper);
                }
                hint
            }
        }
    }
}

impl<B> std::fmt::Debug for CacheBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Full { .. } => "Full",
            Kind::Empty => "Empty",
            Kind::Passthrough { .. } => "Passthrough",
            Kind::Replay { .. } => "Replay",
        };
        f.debug_struct("CacheBody").field("kind", &kind).finish()
    }
}

/// Why a body was not collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotCollected {
    /// Its size is not known to be within the bound: a stream, or too large.
    /// Nothing was read.
    Unbounded,
    /// It said it was within the bound but was not, had trailers, or failed:
    /// what was read is replayed.
    Broken,
}

/// The whole of `body` if its size hint promises at most `max` bytes (an
/// exact `Content-Length`-like hint, as a buffered body has); otherwise the
/// body to pass on, which replays whatever was read. A body whose size is
/// not bounded is not read at all, so a stream is never buffered.
pub(crate) async fn collect<B>(body: B, max: usize) -> Result<Bytes, (CacheBody<B>, NotCollected)>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let bounded = body
        .size_hint()
        .upper()
        .is_some_and(|upper| upper <= max as u64);
    if !bounded {
        return Err((CacheBody::passthrough(body), NotCollected::Unbounded));
    }
    let mut body = Box::pin(body);
    let mut frames: VecDeque<Frame<Bytes>> = VecDeque::new();
    let mut len = 0usize;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                let is_data = frame.is_data();
                if let Some(data) = frame.data_ref() {
                    len += data.len();
                }
                frames.push_back(frame);
                if !is_data || len > max {
                    // Trailers, or more than the hint promised: pass it on.
                    return Err((CacheBody::replay(frames, None, body), NotCollected::Broken));
                }
            }
            Some(Err(error)) => {
                let error = Some(error.into());
                return Err((CacheBody::replay(frames, error, body), NotCollected::Broken));
            }
        }
    }
    Ok(match frames.len() {
        0 => Bytes::new(),
        1 => frames
            .pop_front()
            .and_then(|frame| frame.into_data().ok())
            .unwrap_or_default(),
        _ => {
            let mut all = BytesMut::with_capacity(len);
            for frame in frames {
                if let Ok(data) = frame.into_data() {
                    all.extend_from_slice(&data);
                }
            }
            all.freeze()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use std::convert::Infallible;

    /// A body of chunks that tells the size hint it is given.
    struct Chunks {
        chunks: VecDeque<Bytes>,
        hint: SizeHint,
    }

    impl Body for Chunks {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.chunks.pop_front().map(|chunk| Ok(Frame::data(chunk))))
        }
        fn size_hint(&self) -> SizeHint {
            self.hint
        }
    }

    /// A stream: no upper bound on its size.
    fn stream(chunks: &[&'static str]) -> Chunks {
        Chunks {
            chunks: chunks
                .iter()
                .map(|c| Bytes::from_static(c.as_bytes()))
                .collect(),
            hint: SizeHint::new(),
        }
    }

    /// A body that says it is `claimed` bytes long.
    fn claiming(claimed: u64, chunks: &[&'static str]) -> Chunks {
        Chunks {
            hint: SizeHint::with_exact(claimed),
            ..stream(chunks)
        }
    }

    #[test]
    fn a_full_body_within_the_bound_is_collected() {
        let body = Full::new(Bytes::from_static(b"hello"));
        assert_eq!(pollster::block_on(collect(body, 5)).unwrap(), "hello");
    }

    #[test]
    fn a_body_over_the_bound_is_passed_on_unread() {
        let body = Full::new(Bytes::from_static(b"hello"));
        let (passed, why) = pollster::block_on(collect(body, 4)).unwrap_err();
        assert_eq!(why, NotCollected::Unbounded);
        assert_eq!(passed.size_hint().exact(), Some(5));
        let bytes = pollster::block_on(passed.collect()).unwrap().to_bytes();
        assert_eq!(bytes, "hello");
    }

    #[test]
    fn a_stream_of_unknown_length_is_never_read() {
        let (passed, why) = pollster::block_on(collect(stream(&["a", "b"]), 1 << 20)).unwrap_err();
        assert_eq!(why, NotCollected::Unbounded);
        let Kind::Passthrough { inner } = &passed.kind else {
            panic!("a stream must be passed on as it is");
        };
        assert_eq!(inner.chunks.len(), 2, "nothing was read");
        let bytes = pollster::block_on(passed.collect()).unwrap().to_bytes();
        assert_eq!(bytes, "ab");
    }

    #[test]
    fn a_body_larger_than_it_said_is_replayed_whole() {
        let liar = claiming(2, &["ab", "cd", "ef"]);
        let (passed, why) = pollster::block_on(collect(liar, 3)).unwrap_err();
        assert_eq!(why, NotCollected::Broken);
        let bytes = pollster::block_on(passed.collect()).unwrap().to_bytes();
        assert_eq!(bytes, "abcdef");
    }

    #[test]
    fn chunks_are_joined() {
        let body = claiming(2, &["a", "b"]);
        assert_eq!(pollster::block_on(collect(body, 2)).unwrap(), "ab");
    }
}
