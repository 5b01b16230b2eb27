//! Optimistic concurrency: a conditional write loses when someone changed the document since
//! it was read; the caller reads it again and retries, a bounded number of times.

/// Attempts of one read-modify-write before giving up on a document that keeps changing.
pub const CONFLICT_ATTEMPTS: usize = 5;

/// What one attempt of a read-modify-write came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<T> {
    /// Finished: written, or nothing (left) to write.
    Done(T),
    /// Someone changed the document first: read it again and retry.
    Conflict,
}

/// Runs `attempt` until it is [`Attempt::Done`], at most [`CONFLICT_ATTEMPTS`] times; `None`
/// when every attempt lost to a concurrent writer.
///
/// # Errors
/// The first error of an attempt, which ends the retries.
pub async fn retry_on_conflict<T, E, F, Fut>(mut attempt: F) -> Result<Option<T>, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, E>>,
{
    for _ in 0..CONFLICT_ATTEMPTS {
        if let Attempt::Done(value) = attempt().await? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retries_until_done_and_gives_up_after_the_bound() {
        let mut calls = 0;
        let done = retry_on_conflict(|| {
            calls += 1;
            let n = calls;
            async move {
                Ok::<_, ()>(if n < 3 {
                    Attempt::Conflict
                } else {
                    Attempt::Done(n)
                })
            }
        })
        .await;
        assert_eq!(done, Ok(Some(3)));

        let mut calls = 0;
        let never = retry_on_conflict(|| {
            calls += 1;
            async { Ok::<Attempt<()>, ()>(Attempt::Conflict) }
        })
        .await;
        assert_eq!((never, calls), (Ok(None), CONFLICT_ATTEMPTS));

        let failed = retry_on_conflict(|| async { Err::<Attempt<()>, _>("down") }).await;
        assert_eq!(failed, Err("down"));
    }
}
