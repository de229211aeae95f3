//! Group commit: writes that arrive together are written together.
//!
//! Each caller puts its write in the queue and waits for a writer's turn. The first to
//! find a writer free takes every write queued so far and writes them in one
//! transaction; the others find their answer already there. Nobody waits for a timer, so
//! a lone write is written at once, and under load batches grow by themselves. Used for
//! agents' check-ins and for their audited job claims and reports, with one writer: a
//! second writer on PostgreSQL, preparing one batch while another commits, was slower
//! in `works-bench` on two cores (more, smaller transactions).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::{oneshot, Semaphore};

use crate::error::{Error, Result};

type Waiting<T, R> = Vec<(T, oneshot::Sender<Result<R>>)>;

pub(crate) struct GroupCommit<T, R> {
    waiting: Mutex<Waiting<T, R>>,
    writers: Semaphore,
    batches: AtomicU64,
    written: AtomicU64,
}

impl<T, R> Default for GroupCommit<T, R> {
    fn default() -> Self {
        GroupCommit::new(1)
    }
}

impl<T, R> GroupCommit<T, R> {
    /// A queue with up to `writers` batches written at once (at least one).
    pub(crate) fn new(writers: usize) -> Self {
        GroupCommit { waiting: Mutex::new(Vec::new()), writers: Semaphore::new(writers.max(1)), batches: AtomicU64::new(0), written: AtomicU64::new(0) }
    }
}

fn interrupted<R>() -> Result<R> {
    Err(Error::internal("The change could not be recorded because its write was interrupted; try again."))
}

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    /// Writes `item` together with any others waiting, through `write`, which is handed
    /// the batch and answers one result per item, in order. The batch is written on a
    /// task of its own, so a caller who goes away (an agent that hangs up) does not
    /// abandon the others' writes half-way.
    pub(crate) async fn submit<F, Fut>(&self, item: T, write: F) -> Result<R>
    where
        F: FnOnce(Vec<T>) -> Fut,
        Fut: Future<Output = Vec<Result<R>>> + Send + 'static,
    {
        self.submit_all(vec![item], write).await.pop().unwrap_or_else(interrupted)
    }

    /// As [`GroupCommit::submit`], for several items of one caller: they join the queue
    /// together, so they are written in the same batch. One result per item, in order.
    pub(crate) async fn submit_all<F, Fut>(&self, items: Vec<T>, write: F) -> Vec<Result<R>>
    where
        F: FnOnce(Vec<T>) -> Fut,
        Fut: Future<Output = Vec<Result<R>>> + Send + 'static,
    {
        let mut answered = Vec::with_capacity(items.len());
        {
            let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            for item in items {
                let (answer, answer_here) = oneshot::channel();
                waiting.push((item, answer));
                answered.push(answer_here);
            }
        }
        let Some(first) = answered.first_mut() else { return Vec::new() };
        let Ok(turn) = self.writers.acquire().await else { return answered.iter().map(|_| interrupted()).collect() };
        // A writer before us may have taken these items (all of them: they were queued
        // together) and written them, or be writing them now.
        let first_answer = match first.try_recv() {
            Ok(result) => Some(result),
            Err(oneshot::error::TryRecvError::Closed) => Some(interrupted()),
            Err(oneshot::error::TryRecvError::Empty) => {
                let batch = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|p| p.into_inner()));
                if !batch.is_empty() {
                    self.write_batch(batch, write).await;
                }
                None
            }
        };
        drop(turn);
        // These items were in that batch, or in one another writer is writing.
        let mut results = Vec::with_capacity(answered.len());
        let mut answered = answered.into_iter();
        if let Some(result) = first_answer {
            results.push(result);
            answered.next();
        }
        for answer in answered {
            results.push(answer.await.unwrap_or_else(|_| interrupted()));
        }
        results
    }

    async fn write_batch<F, Fut>(&self, batch: Waiting<T, R>, write: F)
    where
        F: FnOnce(Vec<T>) -> Fut,
        Fut: Future<Output = Vec<Result<R>>> + Send + 'static,
    {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let (items, answers): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let written = write(items);
        let _ = tokio::spawn(async move {
            let results = written.await;
            for (answer, result) in answers.into_iter().zip(results) {
                let _ = answer.send(result);
            }
        })
        .await;
    }

    /// Since this server started: how many transactions were written, and how many
    /// items they held.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.batches.load(Ordering::Relaxed), self.written.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn writes_arriving_together_share_batches_each_gets_its_own_answer_and_writers_are_bounded() {
        for writers in [1, 3] {
            let queue: Arc<GroupCommit<u32, u32>> = Arc::new(GroupCommit::new(writers));
            let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let mut tasks = Vec::new();
            for i in 0..300u32 {
                let (queue, now, most) = (queue.clone(), now.clone(), most.clone());
                tasks.push(tokio::spawn(async move {
                    queue
                        .submit(i, move |items| async move {
                            let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(at_once, Ordering::SeqCst);
                            // Slow enough that others queue up meanwhile.
                            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                            now.fetch_sub(1, Ordering::SeqCst);
                            items.into_iter().map(|i| if i == 7 { Err(Error::invalid("item", "seven is refused")) } else { Ok(i * 10) }).collect()
                        })
                        .await
                }));
            }
            for (i, t) in tasks.into_iter().enumerate() {
                let got = t.await.unwrap();
                if i == 7 {
                    assert!(got.is_err(), "the seventh item's own failure reaches it alone");
                } else {
                    assert_eq!(got.unwrap(), i as u32 * 10, "{writers} writers");
                }
            }
            let (batches, written) = queue.counts();
            assert_eq!(written, 300, "{writers} writers");
            assert!(batches < 300, "some writes shared a batch ({batches} batches, {writers} writers)");
            assert!(most.load(Ordering::SeqCst) <= writers, "at most {writers} batches at once");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn items_submitted_together_share_one_batch_with_their_answers_in_order() {
        let queue: Arc<GroupCommit<u32, u32>> = Arc::new(GroupCommit::default());
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for caller in 0..20u32 {
            let (queue, sizes) = (queue.clone(), sizes.clone());
            tasks.push(tokio::spawn(async move {
                let items: Vec<u32> = (0..5).map(|k| caller * 100 + k).collect();
                queue
                    .submit_all(items, move |items| async move {
                        sizes.lock().unwrap().push(items.clone());
                        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                        items.into_iter().map(|i| if i == 303 { Err(Error::invalid("item", "refused")) } else { Ok(i + 1) }).collect()
                    })
                    .await
            }));
        }
        for (caller, t) in tasks.into_iter().enumerate() {
            let got = t.await.unwrap();
            assert_eq!(got.len(), 5);
            for (k, r) in got.into_iter().enumerate() {
                let item = caller as u32 * 100 + k as u32;
                match r {
                    Ok(v) => assert_eq!(v, item + 1),
                    Err(_) => assert_eq!(item, 303, "only the refused item fails"),
                }
            }
        }
        // Each caller's items were written in one batch, together and in order.
        let batches = sizes.lock().unwrap().clone();
        for caller in 0..20u32 {
            let holding: Vec<&Vec<u32>> = batches.iter().filter(|b| b.iter().any(|i| i / 100 == caller)).collect();
            assert_eq!(holding.len(), 1, "caller {caller}'s items were split: {batches:?}");
            let mine: Vec<u32> = holding[0].iter().copied().filter(|i| i / 100 == caller).collect();
            assert_eq!(mine, (0..5).map(|k| caller * 100 + k).collect::<Vec<_>>());
        }
        assert!(queue.submit_all(Vec::new(), |_| async { Vec::new() }).await.is_empty());
    }

    #[tokio::test]
    async fn a_write_that_answers_nothing_is_an_error_not_a_hang() {
        let queue: GroupCommit<u32, u32> = GroupCommit::default();
        let got = queue.submit(1, |_| async { Vec::new() }).await;
        assert!(matches!(got, Err(Error::Internal { .. })), "{got:?}");
    }
}
