extension Catalog {
    /// Softmax-family token mixers (section 2 of the catalog).
    static let softmaxFamily: [RegistryEntry<any TokenMixer>] = [
        RegistryEntry(SoftmaxAttention.self),
        RegistryEntry(SlidingWindowAttention.self),
        RegistryEntry(SigmoidAttention.self),
        RegistryEntry(ClippedSoftmaxAttention.self),
        RegistryEntry(GatedAttention.self),
        RegistryEntry(PowerSoftmaxAttention.self),
        RegistryEntry(TopKAttention.self),
    ]
}
