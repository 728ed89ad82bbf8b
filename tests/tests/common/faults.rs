//! Fault injection at the ports: layers around the item store and the workflow engine
//! that, deterministically by seed, refuse a call (nothing happens; the caller sees the
//! dependency unavailable), lose a call's reply (it happened; the caller sees it
//! unavailable), or "die": from the Nth call on, every call is refused, as if the process
//! had stopped there, until the test restarts the platform on the same data.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use skein_core::ports::{
    Change, Condition, EngineError, Item, ItemStore, Key, Page, Query, StoreError, WorkflowEngine,
    WriteOp,
};
use skein_core::workflows::Mode;

/// What the layer does to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The call is not made; the caller sees the dependency unavailable.
    Refuse,
    /// The call is made, and its reply lost: the caller sees it unavailable.
    LoseReply,
}

/// One seed's faults: how likely a call is to fail, how many may, and whether (and at
/// which call) the process dies.
pub struct FaultPlan {
    pub seed: u64,
    rng: Mutex<StdRng>,
    armed: AtomicBool,
    calls: AtomicU64,
    rate: f64,
    budget: AtomicU32,
    pub dies_at: Option<u64>,
    dead: AtomicBool,
    /// Every fault injected: (call number, site, fault).
    pub injected: Mutex<Vec<(u64, &'static str, Fault)>>,
}

impl FaultPlan {
    /// Draws the plan from `seed`: up to 4 faults at a rate of 1-8% of calls, and in
    /// one seed of four, a death somewhere in the first 400 calls. Seed 0 has none.
    pub fn from_seed(seed: u64) -> Arc<Self> {
        let mut rng = StdRng::seed_from_u64(seed);
        let rate = rng.random_range(0.01..0.08);
        let budget = rng.random_range(1..=4);
        let dies_at = (rng.random_range(0..4) == 0).then(|| rng.random_range(20..400));
        // Seed 0 is the baseline: no fault at all, so every run must succeed.
        let (budget, dies_at) = if seed == 0 {
            (0, None)
        } else {
            (budget, dies_at)
        };
        Arc::new(Self {
            seed,
            rng: Mutex::new(rng),
            armed: AtomicBool::new(false),
            calls: AtomicU64::new(0),
            rate,
            budget: AtomicU32::new(budget),
            dies_at,
            dead: AtomicBool::new(false),
            injected: Mutex::default(),
        })
    }

    /// Faults start with the first call after this (setup runs clean).
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// From now on every call is refused, as when the dependency is down.
    pub fn go_down(&self) {
        self.dead.store(true, Ordering::SeqCst);
    }

    /// Calls go through again.
    pub fn come_back(&self) {
        self.dead.store(false, Ordering::SeqCst);
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    pub fn faults(&self) -> usize {
        self.injected.lock().unwrap().len()
    }

    fn draw(&self, site: &'static str, writes: bool) -> Option<Fault> {
        if self.is_dead() {
            return Some(Fault::Refuse);
        }
        if !self.armed.load(Ordering::SeqCst) {
            return None;
        }
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.dies_at.is_some_and(|at| call >= at) {
            self.dead.store(true, Ordering::SeqCst);
            self.injected
                .lock()
                .unwrap()
                .push((call, site, Fault::Refuse));
            return Some(Fault::Refuse);
        }
        let mut rng = self.rng.lock().unwrap();
        if !rng.random_bool(self.rate) || self.budget.load(Ordering::SeqCst) == 0 {
            return None;
        }
        self.budget.fetch_sub(1, Ordering::SeqCst);
        let fault = if writes && rng.random_bool(0.5) {
            Fault::LoseReply
        } else {
            Fault::Refuse
        };
        self.injected.lock().unwrap().push((call, site, fault));
        Some(fault)
    }
}

fn store_down(site: &str) -> StoreError {
    StoreError::Unavailable(format!("injected fault at {site}"))
}

fn engine_down(site: &str) -> EngineError {
    EngineError::Unavailable(format!("injected fault at {site}"))
}

pub struct FaultyStore {
    pub inner: Arc<dyn ItemStore>,
    pub plan: Arc<FaultPlan>,
}

impl FaultyStore {
    async fn write<T: Send>(
        &self,
        site: &'static str,
        call: impl std::future::Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        match self.plan.draw(site, true) {
            None => call.await,
            Some(Fault::Refuse) => Err(store_down(site)),
            Some(Fault::LoseReply) => {
                call.await?;
                Err(store_down(site))
            }
        }
    }

    fn read(&self, site: &'static str) -> Result<(), StoreError> {
        match self.plan.draw(site, false) {
            None => Ok(()),
            Some(_) => Err(store_down(site)),
        }
    }
}

#[async_trait]
impl ItemStore for FaultyStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.read("store.get")?;
        self.inner.get(key).await
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<u64, StoreError> {
        self.write("store.put", self.inner.put(item, condition))
            .await
    }

    async fn update(
        &self,
        key: &Key,
        changes: Vec<Change>,
        condition: Condition,
    ) -> Result<Item, StoreError> {
        self.write("store.update", self.inner.update(key, changes, condition))
            .await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.write("store.delete", self.inner.delete(key, condition))
            .await
    }

    async fn query(&self, query: &Query) -> Result<Page<Item>, StoreError> {
        self.read("store.query")?;
        self.inner.query(query).await
    }

    async fn transact_write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.write("store.transact", self.inner.transact_write(ops))
            .await
    }
}

pub struct FaultyEngine {
    pub inner: Arc<dyn WorkflowEngine>,
    pub plan: Arc<FaultPlan>,
}

impl FaultyEngine {
    async fn call(
        &self,
        site: &'static str,
        call: impl std::future::Future<Output = Result<(), EngineError>> + Send,
    ) -> Result<(), EngineError> {
        match self.plan.draw(site, true) {
            None => call.await,
            Some(Fault::Refuse) => Err(engine_down(site)),
            Some(Fault::LoseReply) => {
                call.await?;
                Err(engine_down(site))
            }
        }
    }
}

#[async_trait]
impl WorkflowEngine for FaultyEngine {
    async fn register(&self, machine: &str, mode: Mode, asl: &Value) -> Result<(), EngineError> {
        self.call("engine.register", self.inner.register(machine, mode, asl))
            .await
    }

    async fn start(&self, machine: &str, run: &str, input: &Value) -> Result<(), EngineError> {
        self.call("engine.start", self.inner.start(machine, run, input))
            .await
    }

    async fn stop(
        &self,
        machine: &str,
        run: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), EngineError> {
        self.call("engine.stop", self.inner.stop(machine, run, error, cause))
            .await
    }

    async fn send_task_success(&self, token: &str, output: &Value) -> Result<(), EngineError> {
        self.call(
            "engine.send_task_success",
            self.inner.send_task_success(token, output),
        )
        .await
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), EngineError> {
        self.call(
            "engine.send_task_failure",
            self.inner.send_task_failure(token, error, cause),
        )
        .await
    }

    async fn probe(&self) -> Result<(), EngineError> {
        self.call("engine.probe", self.inner.probe()).await
    }
}
