//! CPU placement: disjoint CPU sets for the server and the load generator.

use anyhow::bail;

/// Where the server and the client run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// CPUs for the server (the first `threads` of them are used for a run with `threads` threads).
    pub server: Vec<usize>,
    /// CPUs for the load generator.
    pub client: Vec<usize>,
}

impl Placement {
    /// Splits the CPUs this process may use: the server gets the first half (rounded down, at
    /// least one), the client the rest. On 2 CPUs: server CPU 0, client CPU 1. Explicit lists
    /// override either side.
    pub fn decide(
        available: &[usize],
        server: Option<Vec<usize>>,
        client: Option<Vec<usize>>,
    ) -> anyhow::Result<Placement> {
        if available.is_empty() {
            bail!("no CPUs available to this process");
        }
        let half = (available.len() / 2).max(1);
        let server = server.unwrap_or_else(|| available[..half].to_vec());
        let client = client.unwrap_or_else(|| {
            let rest: Vec<usize> = available
                .iter()
                .copied()
                .filter(|c| !server.contains(c))
                .collect();
            if rest.is_empty() {
                available.to_vec()
            } else {
                rest
            }
        });
        for cpu in server.iter().chain(&client) {
            if !available.contains(cpu) {
                bail!(
                    "CPU {cpu} is not available to this process (available: {})",
                    crate::units::format_cpu_list(available)
                );
            }
        }
        if server.is_empty() || client.is_empty() {
            bail!("--server-cpus and --client-cpus must not be empty");
        }
        Ok(Placement { server, client })
    }

    /// True if server and client share a CPU (a single-CPU machine, or explicit overlapping sets).
    pub fn overlaps(&self) -> bool {
        self.server.iter().any(|c| self.client.contains(c))
    }

    /// The default thread sweep: powers of two up to the number of server CPUs, and that number
    /// (1 CPU: `[1]`; 4: `[1, 2, 4]`; 6: `[1, 2, 4, 6]`).
    pub fn default_threads(&self) -> Vec<usize> {
        let n = self.server.len();
        let mut threads: Vec<usize> = std::iter::successors(Some(1usize), |t| Some(t * 2))
            .take_while(|&t| t <= n)
            .collect();
        if threads.last() != Some(&n) {
            threads.push(n);
        }
        threads
    }

    /// The server CPUs for a run with `threads` threads: the first `threads` server CPUs (all of
    /// them if there are fewer).
    pub fn server_cpus_for(&self, threads: usize) -> Vec<usize> {
        self.server[..threads.clamp(1, self.server.len())].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_cpus_split_one_and_one() {
        let p = Placement::decide(&[0, 1], None, None).unwrap();
        assert_eq!((p.server.clone(), p.client.clone()), (vec![0], vec![1]));
        assert_eq!(p.default_threads(), [1]);
        assert!(!p.overlaps());
    }

    #[test]
    fn eight_cpus_and_single_cpu() {
        let p = Placement::decide(&(0..8).collect::<Vec<_>>(), None, None).unwrap();
        assert_eq!(p.server, [0, 1, 2, 3]);
        assert_eq!(p.client, [4, 5, 6, 7]);
        assert_eq!(p.server_cpus_for(2), [0, 1]);
        assert_eq!(p.default_threads(), [1, 2, 4]);
        let twelve = Placement::decide(&(0..12).collect::<Vec<_>>(), None, None).unwrap();
        assert_eq!(twelve.default_threads(), [1, 2, 4, 6]);
        assert_eq!(p.server_cpus_for(8), [0, 1, 2, 3]);
        let single = Placement::decide(&[3], None, None).unwrap();
        assert!(single.overlaps());
        assert!(Placement::decide(&[0, 1], Some(vec![5]), None).is_err());
    }
}
