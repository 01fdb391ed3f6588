//! Updates decided but never sent because their intent could not be
//! committed (the store failed at that moment).

use megaport::types::EpochMillis;

use crate::core::{Core, Job};
use megaflex_domain::circuits::DecisionAction;
use megaflex_store::{IntentOutcome, Record, StoreError};

impl Core {
    /// Releases the circuits of `jobs`: nothing was sent, so nothing is in
    /// flight, and the next cycle (once the store can write) decides again.
    /// Without this a circuit stayed `in_flight` until a restart and was
    /// never updated again. The settlement follows the intent in the
    /// writer's queue, so the store ends consistent when it recovers.
    pub(crate) fn abandon_unsent(&mut self, jobs: &[Job], now: EpochMillis, error: &StoreError) {
        for job in jobs {
            let i = job.circuit;
            self.circuits[i].in_flight = None;
            self.circuits[i].last_plan = None;
            let note = format!("not sent: the intent could not be committed ({error})");
            self.decide(now, i, DecisionAction::Failed, format!("update of {} {note}", job.intent.vxc_uid));
            self.records.push(Record::IntentSettled {
                id: job.intent.id,
                outcome: IntentOutcome::Failed,
                at: now,
                note,
            });
            self.save_circuit(i);
            self.dirty.insert(i);
        }
        self.deadlines_changed();
    }
}
