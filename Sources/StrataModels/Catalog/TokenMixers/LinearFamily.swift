extension Catalog {
    /// Linear-time and recurrent token mixers (section 3 of the catalog).
    static let linearFamily: [RegistryEntry<any TokenMixer>] = [
        RegistryEntry(LinearAttention.self),
        RegistryEntry(Retention.self),
        RegistryEntry(GatedLinearAttention.self),
        RegistryEntry(DeltaNet.self),
        RegistryEntry(GatedDeltaNet.self),
        RegistryEntry(Mamba2.self),
        RegistryEntry(Mamba.self),
        RegistryEntry(SimplifiedLinearAttention.self),
    ]
}
