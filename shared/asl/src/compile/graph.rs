//! Whole-graph checks: every state reachable from StartAt, and every state able to finish.

use crate::error::Problems;
use crate::machine::{Graph, Kind, Transition};

fn successors(kind: &Kind) -> Vec<usize> {
    let mut out = Vec::new();
    let mut next = |t: &Transition| {
        if let Transition::Next(i) = t {
            out.push(*i)
        }
    };
    match kind {
        Kind::Pass(s) => next(&s.next),
        Kind::Wait(s) => next(&s.next),
        Kind::Task(s) => {
            next(&s.next);
            out.extend(s.recovery.catch.iter().map(|c| c.next));
        }
        Kind::Parallel(s) => {
            next(&s.next);
            out.extend(s.recovery.catch.iter().map(|c| c.next));
        }
        Kind::Map(s) => {
            next(&s.next);
            out.extend(s.recovery.catch.iter().map(|c| c.next));
        }
        Kind::Choice(s) => {
            out.extend(s.rules.iter().map(|r| r.next));
            out.extend(s.default);
        }
        Kind::Succeed | Kind::Fail(_) => {}
    }
    out
}

fn is_terminal(kind: &Kind) -> bool {
    match kind {
        Kind::Succeed | Kind::Fail(_) => true,
        Kind::Pass(s) => s.next == Transition::End,
        Kind::Wait(s) => s.next == Transition::End,
        Kind::Task(s) => s.next == Transition::End,
        Kind::Parallel(s) => s.next == Transition::End,
        Kind::Map(s) => s.next == Transition::End,
        Kind::Choice(_) => false,
    }
}

pub(super) fn check(graph: &Graph, states_at: &str, problems: &mut Problems) {
    let count = graph.states.len();
    if count == 0 {
        return;
    }
    let edges: Vec<Vec<usize>> = graph.states.iter().map(|s| successors(&s.kind)).collect();

    let mut reachable = vec![false; count];
    let mut stack = vec![graph.start];
    while let Some(i) = stack.pop() {
        if !std::mem::replace(&mut reachable[i], true) {
            stack.extend(edges[i].iter().copied());
        }
    }

    let mut finishes: Vec<bool> = graph.states.iter().map(|s| is_terminal(&s.kind)).collect();
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..count {
            if !finishes[i] && edges[i].iter().any(|&j| finishes[j]) {
                finishes[i] = true;
                changed = true;
            }
        }
    }

    for (i, state) in graph.states.iter().enumerate() {
        let at = format!("{states_at}.{}", state.name);
        if !reachable[i] {
            problems.add(&at, "unreachable: no transition leads here from StartAt");
        } else if !finishes[i] {
            problems.add(&at, "no path from this state reaches a terminal state (End, Succeed or Fail): it would loop forever");
        }
    }
}
