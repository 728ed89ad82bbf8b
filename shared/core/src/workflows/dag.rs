//! The step graph: dependencies by index, a topological order, and the questions the
//! validator, the compiler and the benchmarks ask of it.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dag {
    pub ids: Vec<String>,
    /// `deps[i]`: the steps `i` waits for, sorted.
    pub deps: Vec<Vec<usize>>,
    /// `dependents[i]`: the steps waiting for `i`, sorted.
    pub dependents: Vec<Vec<usize>>,
    /// Every step after all of its dependencies.
    pub order: Vec<usize>,
}

impl Dag {
    /// Builds the graph, or returns one cycle as step indexes (first repeated at the end).
    pub fn new(ids: Vec<String>, mut deps: Vec<Vec<usize>>) -> Result<Dag, Vec<usize>> {
        let n = ids.len();
        for d in &mut deps {
            d.sort_unstable();
            d.dedup();
        }
        let mut dependents = vec![Vec::new(); n];
        for (step, ds) in deps.iter().enumerate() {
            for &d in ds {
                dependents[d].push(step);
            }
        }
        let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
        let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).rev().collect();
        let mut order = Vec::with_capacity(n);
        while let Some(step) = ready.pop() {
            order.push(step);
            for &next in dependents[step].iter().rev() {
                waiting[next] -= 1;
                if waiting[next] == 0 {
                    ready.push(next);
                }
            }
        }
        if order.len() < n {
            return Err(find_cycle(&deps, &waiting));
        }
        Ok(Dag {
            ids,
            deps,
            dependents,
            order,
        })
    }

    pub fn index(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|s| s == id)
    }

    /// Whether `ancestor` must finish before `step` starts.
    pub fn is_ancestor(&self, ancestor: usize, step: usize) -> bool {
        let mut seen = vec![false; self.ids.len()];
        let mut stack = self.deps[step].clone();
        while let Some(s) = stack.pop() {
            if s == ancestor {
                return true;
            }
            if !std::mem::replace(&mut seen[s], true) {
                stack.extend(&self.deps[s]);
            }
        }
        false
    }

    /// Steps nothing depends on: the run's natural output.
    pub fn sinks(&self) -> Vec<usize> {
        (0..self.ids.len())
            .filter(|&i| self.dependents[i].is_empty())
            .collect()
    }

    /// Level of each step: 0 for roots, else one more than its deepest dependency.
    pub fn levels(&self) -> Vec<usize> {
        let mut level = vec![0; self.ids.len()];
        for &step in &self.order {
            level[step] = self.deps[step]
                .iter()
                .map(|&d| level[d] + 1)
                .max()
                .unwrap_or(0);
        }
        level
    }

    /// The longest path's total duration, given each step's duration.
    pub fn critical_path(&self, duration: &[f64]) -> f64 {
        let mut finish = vec![0.0f64; self.ids.len()];
        for &step in &self.order {
            let start = self.deps[step]
                .iter()
                .map(|&d| finish[d])
                .fold(0.0, f64::max);
            finish[step] = start + duration[step];
        }
        finish.into_iter().fold(0.0, f64::max)
    }

    /// What running level by level (each level waits for the whole previous one) takes.
    pub fn level_by_level(&self, duration: &[f64]) -> f64 {
        let levels = self.levels();
        let depth = levels.iter().max().map_or(0, |m| m + 1);
        (0..depth)
            .map(|l| {
                (0..self.ids.len())
                    .filter(|&s| levels[s] == l)
                    .map(|s| duration[s])
                    .fold(0.0, f64::max)
            })
            .sum()
    }
}

/// Some cycle among the steps Kahn's algorithm could not order (`waiting > 0`).
fn find_cycle(deps: &[Vec<usize>], waiting: &[usize]) -> Vec<usize> {
    let start = waiting.iter().position(|&w| w > 0).unwrap_or(0);
    let mut position = vec![usize::MAX; deps.len()];
    let mut path = Vec::new();
    let mut current = start;
    loop {
        if position[current] != usize::MAX {
            let mut cycle = path[position[current]..].to_vec();
            cycle.reverse();
            cycle.push(cycle[0]);
            return cycle;
        }
        position[current] = path.len();
        path.push(current);
        current = deps[current]
            .iter()
            .copied()
            .find(|&d| waiting[d] > 0)
            .unwrap_or(current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dag(edges: &[(usize, usize)], n: usize) -> Result<Dag, Vec<usize>> {
        let mut deps = vec![Vec::new(); n];
        for &(from, to) in edges {
            deps[to].push(from);
        }
        Dag::new((0..n).map(|i| format!("s{i}")).collect(), deps)
    }

    #[test]
    fn a_diamond_orders_the_join_last() {
        let d = dag(&[(0, 1), (0, 2), (1, 3), (2, 3)], 4).unwrap();
        assert_eq!(d.order.first(), Some(&0));
        assert_eq!(d.order.last(), Some(&3));
        assert_eq!(d.sinks(), vec![3]);
        assert!(d.is_ancestor(0, 3));
        assert!(!d.is_ancestor(1, 2));
    }

    #[test]
    fn a_cycle_is_returned_in_dependency_order() {
        let cycle = dag(&[(0, 1), (1, 2), (2, 1), (2, 3)], 4).unwrap_err();
        assert_eq!(cycle.first(), cycle.last());
        assert_eq!(cycle.len(), 3);
        assert!(cycle.contains(&1) && cycle.contains(&2));
    }

    #[test]
    fn critical_path_beats_levels_on_an_unbalanced_dag() {
        // 0 -> 1 (long) and 0 -> 2 (short) -> 3 (long): levels wait for 1 before 3.
        let d = dag(&[(0, 1), (0, 2), (2, 3)], 4).unwrap();
        let durations = [1.0, 10.0, 1.0, 10.0];
        assert_eq!(d.critical_path(&durations), 12.0);
        assert_eq!(d.level_by_level(&durations), 21.0);
    }
}
