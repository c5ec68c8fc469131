extension Catalog {
    /// Softmax-family token mixers (section 2 of the catalog).
    static let softmaxFamily: [RegistryEntry<any TokenMixer>] = [
        RegistryEntry(SoftmaxAttention.self),
    ]
}
