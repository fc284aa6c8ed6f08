//! k-means segmentation on standardised features, with k chosen by the silhouette.
//!
//! Lloyd's algorithm from k-means++ seeds (Arthur & Vassilvitskii 2007), best of several
//! seeded restarts by within-cluster sum of squares; deterministic for a seed (a SplitMix64
//! generator, so no `rand` dependency). The silhouette (Rousseeuw 1987) costs O(n²·d):
//! compute it on a sample of customers when n is large.

#![allow(clippy::needless_range_loop)] // index loops mirror the formulas

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum KMeansError {
    /// No points, rows of different lengths, or a non-finite value.
    BadData,
    /// k is 0 or more than the number of points.
    BadK,
}

impl fmt::Display for KMeansError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KMeansError::BadData => "no points, ragged rows or a non-finite value",
            KMeansError::BadK => "k must be between 1 and the number of points",
        })
    }
}

impl std::error::Error for KMeansError {}

/// A clustering.
#[derive(Debug, Clone, PartialEq)]
pub struct Clustering {
    pub centroids: Vec<Vec<f64>>,
    /// The cluster of each point, `0..k`.
    pub labels: Vec<usize>,
    /// Within-cluster sum of squared distances.
    pub inertia: f64,
}

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, and good enough to pick seeds.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn check(data: &[Vec<f64>]) -> Result<usize, KMeansError> {
    let d = data.first().ok_or(KMeansError::BadData)?.len();
    if data
        .iter()
        .any(|r| r.len() != d || r.iter().any(|v| !v.is_finite()))
    {
        return Err(KMeansError::BadData);
    }
    Ok(d)
}

/// Z-scores per column (population standard deviation), so every feature weighs the same;
/// a constant column becomes 0.
pub fn standardise(data: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let Some(first) = data.first() else {
        return Vec::new();
    };
    let n = data.len() as f64;
    let d = first.len();
    let mean: Vec<f64> = (0..d)
        .map(|j| data.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let sd: Vec<f64> = (0..d)
        .map(|j| (data.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n).sqrt())
        .collect();
    data.iter()
        .map(|r| {
            (0..d)
                .map(|j| {
                    if sd[j] > 0.0 {
                        (r[j] - mean[j]) / sd[j]
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect()
}

fn lloyd(data: &[Vec<f64>], k: usize, rng: &mut Rng) -> Clustering {
    let n = data.len();
    let d = data[0].len();
    // k-means++: each next seed drawn with probability ∝ squared distance to the nearest.
    let mut centroids = vec![data[(rng.next_f64() * n as f64) as usize % n].clone()];
    let mut nearest: Vec<f64> = data.iter().map(|p| dist2(p, &centroids[0])).collect();
    while centroids.len() < k {
        let total: f64 = nearest.iter().sum();
        let pick = if total > 0.0 {
            let mut target = rng.next_f64() * total;
            let mut idx = n - 1;
            for (i, w) in nearest.iter().enumerate() {
                if target < *w {
                    idx = i;
                    break;
                }
                target -= w;
            }
            idx
        } else {
            // All points coincide with seeds: any point will do.
            centroids.len() % n
        };
        centroids.push(data[pick].clone());
        for (i, p) in data.iter().enumerate() {
            nearest[i] = nearest[i].min(dist2(p, &centroids[centroids.len() - 1]));
        }
    }
    let mut labels = vec![usize::MAX; n];
    for _ in 0..1000 {
        let mut changed = false;
        for (i, p) in data.iter().enumerate() {
            let best = (0..k)
                .min_by(|&a, &b| dist2(p, &centroids[a]).total_cmp(&dist2(p, &centroids[b])))
                .expect("k ≥ 1");
            if labels[i] != best {
                labels[i] = best;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        let mut sums = vec![vec![0.0; d]; k];
        let mut counts = vec![0usize; k];
        for (p, &l) in data.iter().zip(&labels) {
            counts[l] += 1;
            for j in 0..d {
                sums[l][j] += p[j];
            }
        }
        for c in 0..k {
            if counts[c] > 0 {
                centroids[c] = sums[c].iter().map(|s| s / counts[c] as f64).collect();
            } else {
                // An empty cluster takes the point farthest from its centroid.
                let far = (0..n)
                    .max_by(|&a, &b| {
                        dist2(&data[a], &centroids[labels[a]])
                            .total_cmp(&dist2(&data[b], &centroids[labels[b]]))
                    })
                    .expect("n ≥ 1");
                centroids[c] = data[far].clone();
                labels[far] = c;
            }
        }
    }
    let inertia = data
        .iter()
        .zip(&labels)
        .map(|(p, &l)| dist2(p, &centroids[l]))
        .sum();
    Clustering {
        centroids,
        labels,
        inertia,
    }
}

/// k-means with `restarts` (at least 1) seeded runs, keeping the lowest inertia.
pub fn kmeans(
    data: &[Vec<f64>],
    k: usize,
    seed: u64,
    restarts: usize,
) -> Result<Clustering, KMeansError> {
    check(data)?;
    if k == 0 || k > data.len() {
        return Err(KMeansError::BadK);
    }
    let mut rng = Rng(seed);
    let mut best: Option<Clustering> = None;
    for _ in 0..restarts.max(1) {
        let c = lloyd(data, k, &mut rng);
        if best.as_ref().is_none_or(|b| c.inertia < b.inertia) {
            best = Some(c);
        }
    }
    Ok(best.expect("at least one run"))
}

/// The mean silhouette width: for each point, s = (b − a) / max(a, b), where a is its mean
/// distance to the rest of its cluster and b the least mean distance to another cluster;
/// s = 0 for a point alone in its cluster (Rousseeuw 1987). In [−1, 1]; higher is better.
/// None with fewer than two clusters in use.
pub fn silhouette(data: &[Vec<f64>], labels: &[usize]) -> Option<f64> {
    let k = labels.iter().max()? + 1;
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l] += 1;
    }
    if sizes.iter().filter(|&&s| s > 0).count() < 2 {
        return None;
    }
    let mut total = 0.0;
    for (i, p) in data.iter().enumerate() {
        let mut sums = vec![0.0; k];
        for (q, &l) in data.iter().zip(labels) {
            sums[l] += dist2(p, q).sqrt();
        }
        let own = labels[i];
        if sizes[own] == 1 {
            continue;
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != own && sizes[c] > 0)
            .map(|c| sums[c] / sizes[c] as f64)
            .fold(f64::INFINITY, f64::min);
        let m = a.max(b);
        if m > 0.0 {
            total += (b - a) / m;
        }
    }
    Some(total / data.len() as f64)
}

/// Clusters `data` (standardise it first) for each k in `ks` (each ≥ 2) and keeps the k
/// with the highest mean silhouette; returns it, its clustering and its silhouette.
pub fn choose_k(
    data: &[Vec<f64>],
    ks: std::ops::RangeInclusive<usize>,
    seed: u64,
) -> Result<(usize, Clustering, f64), KMeansError> {
    let mut best: Option<(usize, Clustering, f64)> = None;
    for k in ks {
        if k < 2 {
            return Err(KMeansError::BadK);
        }
        let c = kmeans(data, k, seed, 10)?;
        let s = silhouette(data, &c.labels).unwrap_or(f64::NEG_INFINITY);
        if best.as_ref().is_none_or(|b| s > b.2) {
            best = Some((k, c, s));
        }
    }
    best.ok_or(KMeansError::BadK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> (Vec<Vec<f64>>, Vec<usize>) {
        // Three tight, well-separated groups of 30 points.
        let centres = [[0.0, 0.0], [10.0, 0.0], [5.0, 9.0]];
        let mut rng = Rng(42);
        let mut data = Vec::new();
        let mut truth = Vec::new();
        for (g, c) in centres.iter().enumerate() {
            for _ in 0..30 {
                data.push(vec![
                    c[0] + rng.next_f64() - 0.5,
                    c[1] + rng.next_f64() - 0.5,
                ]);
                truth.push(g);
            }
        }
        (data, truth)
    }

    #[test]
    fn recovers_separated_groups_and_chooses_their_number() {
        let (data, truth) = blobs();
        let (k, c, s) = choose_k(&standardise(&data), 2..=6, 1).unwrap();
        assert_eq!(k, 3);
        assert!(s > 0.8, "silhouette {s}");
        // Same partition as the truth, up to renaming.
        for i in 0..data.len() {
            for j in 0..data.len() {
                assert_eq!(truth[i] == truth[j], c.labels[i] == c.labels[j]);
            }
        }
        // Deterministic for a seed.
        assert_eq!(
            kmeans(&data, 3, 9, 3).unwrap(),
            kmeans(&data, 3, 9, 3).unwrap()
        );
    }

    #[test]
    fn silhouette_by_hand() {
        // 1-D: {0, 1} and {10, 11}. Point 0: a = 1, b = 10.5; point 1: a = 1, b = 9.5; and
        // symmetrically for the other pair.
        let data = vec![vec![0.0], vec![1.0], vec![10.0], vec![11.0]];
        let s = silhouette(&data, &[0, 0, 1, 1]).unwrap();
        let want = ((1.0 - 1.0 / 10.5) + (1.0 - 1.0 / 9.5)) / 2.0;
        assert!((s - want).abs() < 1e-12);
        // A singleton contributes 0: {0}, {1, 10, 11}.
        let s = silhouette(&data, &[0, 1, 1, 1]).unwrap();
        // Point 1: a = (9 + 10)/2 = 9.5, b = 1 → (1 − 9.5)/9.5. Point 10: a = (9 + 1)/2 = 5,
        // b = 10 → 0.5. Point 11: a = (10 + 1)/2 = 5.5, b = 11 → 0.5.
        let want = ((1.0 - 9.5) / 9.5 + 0.5 + 0.5) / 4.0;
        assert!((s - want).abs() < 1e-12);
        assert_eq!(silhouette(&data, &[0, 0, 0, 0]), None);
    }

    #[test]
    fn inertia_and_centroids_by_hand() {
        let data = vec![vec![0.0], vec![2.0], vec![10.0], vec![12.0]];
        let c = kmeans(&data, 2, 3, 5).unwrap();
        let mut cents: Vec<f64> = c.centroids.iter().map(|v| v[0]).collect();
        cents.sort_by(f64::total_cmp);
        assert_eq!(cents, vec![1.0, 11.0]);
        assert_eq!(c.inertia, 4.0);
    }

    #[test]
    fn standardised_columns_have_mean_zero_and_unit_variance() {
        let z = standardise(&[vec![1.0, 5.0], vec![2.0, 5.0], vec![3.0, 5.0]]);
        let s = 1.5f64.sqrt();
        assert_eq!(z, vec![vec![-s, 0.0], vec![0.0, 0.0], vec![s, 0.0]]);
    }

    #[test]
    fn bad_input() {
        assert_eq!(kmeans(&[], 1, 0, 1), Err(KMeansError::BadData));
        assert_eq!(
            kmeans(&[vec![1.0], vec![]], 1, 0, 1),
            Err(KMeansError::BadData)
        );
        assert_eq!(kmeans(&[vec![1.0]], 2, 0, 1), Err(KMeansError::BadK));
        assert_eq!(kmeans(&[vec![1.0]], 0, 0, 1), Err(KMeansError::BadK));
        // Identical points: nothing to separate, inertia 0.
        let c = kmeans(&vec![vec![1.0]; 4], 2, 0, 1).unwrap();
        assert_eq!(c.inertia, 0.0);
    }
}
