//! A publisher that can be switched off, like a topic that is down.

use std::sync::Arc;

use quickfix::Publisher;
use quickfix::domain::Envelope;

/// A publisher that refuses everything while switched off, like a topic that is down.
pub struct SwitchablePublisher {
    inner: Arc<dyn Publisher>,
    up: std::sync::atomic::AtomicBool,
}

impl SwitchablePublisher {
    pub fn new(inner: Arc<dyn Publisher>, up: bool) -> Arc<Self> {
        Arc::new(Self {
            inner,
            up: std::sync::atomic::AtomicBool::new(up),
        })
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
    }

    fn check_up(&self) -> Result<(), quickfix::BusError> {
        if self.up.load(std::sync::atomic::Ordering::SeqCst) {
            Ok(())
        } else {
            Err(quickfix::BusError::Unavailable(
                "switched off by the test".into(),
            ))
        }
    }
}

#[async_trait::async_trait]
impl Publisher for SwitchablePublisher {
    async fn publish(
        &self,
        events: &[Envelope],
    ) -> Result<quickfix::PublishReport, quickfix::BusError> {
        self.check_up()?;
        self.inner.publish(events).await
    }

    async fn republish(
        &self,
        events: &[Envelope],
    ) -> Result<quickfix::PublishReport, quickfix::BusError> {
        self.check_up()?;
        self.inner.republish(events).await
    }

    async fn ping(&self) -> Result<(), quickfix::BusError> {
        self.inner.ping().await
    }
}
