extension Catalog {
    /// Residual schemes (slot `residual`).
    public static let residuals = Registry<any ResidualConnection>(.residual, [
        RegistryEntry(AddResidual.self),
        RegistryEntry(LayerScale.self),
        RegistryEntry(GTrXLGate.self),
    ])
}
