extension Catalog {
    /// Norm kinds (slot `norm`).
    public static let norms = Registry<any NormLayer>(.norm, [
        RegistryEntry(LayerNormLayer.self),
        RegistryEntry(RMSNormLayer.self),
        RegistryEntry(IdentityNorm.self),
        RegistryEntry(BatchNormLayer.self),
        RegistryEntry(DynamicTanh.self),
        RegistryEntry(SingleScaleRMSNorm.self),
        RegistryEntry(SeeDNormLayer.self),
        RegistryEntry(BoundedHyperbolicTanh.self),
        RegistryEntry(LayerNormScaling.self),
        RegistryEntry(CRMSNormLayer.self),
    ])
}
