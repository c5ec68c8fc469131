/// Closed-form predictors of in-context linear regression and their expected errors (catalog
/// `icl_linear_regression`). Prompts follow `ICLRegressionTask`: w ~ N(0, I_d), training covariates
/// x ~ N(0, Λ) with Λ = I, labels y_i = wᵀx_i + σ·ε_i, and a noise-free target y_q = wᵀx_q.
public enum ICLBaselines {
    /// Minimum-norm least squares ŵ = (XᵀX)⁺Xᵀy, the pseudo-inverse solution. One rule covers every prompt:
    /// for N ≥ d with XᵀX well conditioned it is ordinary least squares; for N < d (or collinear examples) it is
    /// the minimum-norm interpolant, the limit of ridge regression as the ridge goes to 0 (what numpy's
    /// `lstsq`/`pinv` return). Eigen-directions of XᵀX below 1e-12 · λ_max · d count as null.
    public static func leastSquaresWeights(xs: [[Double]], ys: [Double], dimension d: Int) -> [Double] {
        var gram = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        var moment = [Double](repeating: 0, count: d)
        for (x, y) in zip(xs, ys) {
            for i in 0..<d {
                moment[i] += x[i] * y
                for j in 0..<d { gram[i][j] += x[i] * x[j] }
            }
        }
        let (values, vectors) = symmetricEigen(gram)
        let cutoff = (values.max() ?? 0) * Double(d) * 1e-12
        var w = [Double](repeating: 0, count: d)
        for k in 0..<d where values[k] > cutoff && values[k] > 0 {
            // w += v_k (v_kᵀ Xᵀy) / λ_k
            var c = 0.0
            for i in 0..<d { c += vectors[i][k] * moment[i] }
            c /= values[k]
            for i in 0..<d { w[i] += c * vectors[i][k] }
        }
        return w
    }

    /// Γ⁻¹ of the one-layer LSA model's global minimum: Γ = (1 + 1/N)·Λ + ((tr Λ + σ²)/N)·I for training
    /// covariance Λ [d, d], N examples and label noise σ. At σ = 0 this is the catalog's Γ (Zhang, Frei &
    /// Bartlett 2023). The σ² term is the exact optimum of E‖M·h − w‖² over matrices M, with
    /// h = (1/N)·Σ y_i x_i: E[hhᵀ] = (1 + 1/N)Λ² + ((tr Λ + σ²)/N)·Λ and E[whᵀ] = Λ for w ~ N(0, I), Gaussian x.
    public static func inverseGamma(covariance: [[Double]], examples n: Int, noise: Double) -> [[Double]] {
        let d = covariance.count
        let trace = (0..<d).map { covariance[$0][$0] }.reduce(0, +)
        var gamma = covariance.map { $0.map { $0 * (1 + 1 / Double(n)) } }
        for i in 0..<d { gamma[i][i] += (trace + noise * noise) / Double(n) }
        let (values, vectors) = symmetricEigen(gamma)
        var inverse = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        for i in 0..<d {
            for j in 0..<d {
                var s = 0.0
                for k in 0..<d { s += vectors[i][k] * vectors[j][k] / values[k] }
                inverse[i][j] = s
            }
        }
        return inverse
    }

    /// The LSA global-minimum predictor, one preconditioned gradient step from w = 0:
    /// ŷ = x_qᵀ·Γ⁻¹·(1/N)·Σ_i y_i x_i, with Γ⁻¹ from `inverseGamma`.
    public static func globalMinimumPredict(xs: [[Double]], ys: [Double], query: [Double], inverseGamma g: [[Double]]) -> Double {
        let d = query.count, n = Double(max(xs.count, 1))
        var h = [Double](repeating: 0, count: d)
        for (x, y) in zip(xs, ys) { for i in 0..<d { h[i] += y * x[i] / n } }
        var pred = 0.0
        for i in 0..<d { for j in 0..<d { pred += query[i] * g[i][j] * h[j] } }
        return pred
    }

    /// Expected test MSE of minimum-norm least squares for isotropic prompts: covariates scaled by `covariateScale`
    /// (all of x_i and x_q), the query's additionally by `queryScale`. With c the product of both on the query,
    /// N > d + 1: c²·σ²·d/(N − d − 1) (inverse-Wishart mean); N < d − 1: c²·((d − N) + σ²·N/(d − N − 1)) (the
    /// unseen part of w, plus noise through (XXᵀ)⁻¹). Noise-free prompts with N ≥ d give 0; the other edge
    /// cases have an infinite expectation.
    public static func expectedLeastSquaresMSE(dimension d: Int, examples n: Int, noise σ: Double,
                                               covariateScale: Double = 1, queryScale: Double = 1) -> Double {
        let q2 = queryScale * queryScale
        if σ == 0 && n >= d { return 0 }
        if n > d + 1 { return q2 * σ * σ * Double(d) / Double(n - d - 1) }
        let c2 = covariateScale * covariateScale * q2
        if n < d - 1 { return c2 * Double(d - n) + q2 * σ * σ * Double(n) / Double(d - n - 1) }
        if σ == 0 { return c2 * Double(d - n) }   // n = d − 1: noise-free min-norm error is finite
        return .infinity
    }

    /// Expected test MSE of the global-minimum predictor fit to isotropic training prompts (Λ = I, noise
    /// `trainNoise`, so ŷ = k·x_qᵀ·Σ y_i x_i with k = 1/(N + 1 + d + σ_train²)), tested on prompts whose covariates
    /// are scaled by s = `covariateScale` (query also by `queryScale` = r) with label noise σ:
    /// (s·r)²·d·(k²s⁴N(N + d + 1) − 2k·s²·N + 1 + k²s²σ²N), using E[wᵀS²w] = d(N + d + 1)/N for S = XᵀX/N.
    /// At s = r = 1 and σ = σ_train = 0 this is d(d + 1)/(N + d + 1).
    public static func expectedGlobalMinimumMSE(dimension d: Int, examples n: Int, noise σ: Double, trainNoise: Double? = nil,
                                                covariateScale s: Double = 1, queryScale r: Double = 1) -> Double {
        let nd = Double(n), dd = Double(d), σt = trainNoise ?? σ
        let k = 1 / (nd + 1 + dd + σt * σt)
        let s2 = s * s
        let weightError = k * k * s2 * s2 * nd * (nd + dd + 1) - 2 * k * s2 * nd + 1 + k * k * s2 * σ * σ * nd
        return s2 * r * r * dd * weightError
    }

    /// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations (exact to double rounding for the
    /// small d of these prompts): eigenvalues, and eigenvectors as the columns of the second result.
    static func symmetricEigen(_ matrix: [[Double]]) -> ([Double], [[Double]]) {
        var a = matrix
        let d = a.count
        var v = (0..<d).map { i in (0..<d).map { $0 == i ? 1.0 : 0.0 } }
        for _ in 0..<100 {
            var off = 0.0, total = 0.0
            for i in 0..<d { for j in 0..<d { total += a[i][j] * a[i][j]; if i != j { off += a[i][j] * a[i][j] } } }
            if off <= 1e-30 * max(total, 1e-300) { break }
            for p in 0..<d {
                for q in (p + 1)..<max(d, p + 1) where a[p][q] != 0 {
                    let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<d {   // A ← A·J
                        let akp = a[k][p], akq = a[k][q]
                        a[k][p] = c * akp - s * akq
                        a[k][q] = s * akp + c * akq
                    }
                    for k in 0..<d {   // A ← Jᵀ·A
                        let apk = a[p][k], aqk = a[q][k]
                        a[p][k] = c * apk - s * aqk
                        a[q][k] = s * apk + c * aqk
                    }
                    for k in 0..<d {
                        let vkp = v[k][p], vkq = v[k][q]
                        v[k][p] = c * vkp - s * vkq
                        v[k][q] = s * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<d).map { a[$0][$0] }, v)
    }
}
