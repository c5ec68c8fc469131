extension Catalog {
    /// Norm kinds (slot `norm`).
    public static let norms = Registry<any NormLayer>(.norm, [
        RegistryEntry(LayerNormLayer.self),
        RegistryEntry(RMSNormLayer.self),
        RegistryEntry(IdentityNorm.self),
        RegistryEntry(CRMSNormLayer.self),
    ])
}
