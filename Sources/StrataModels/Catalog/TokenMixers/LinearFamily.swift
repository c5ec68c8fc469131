extension Catalog {
    /// Linear-time and recurrent token mixers (section 3 of the catalog), all on the engine in
    /// `Linear/LinearRecurrence.swift`. They are causal recurrences; in an encoder, `linear_attention` and `sla`
    /// switch to their bidirectional form, the decayed and delta-rule mixers still read left to right.
    static let linearFamily: [RegistryEntry<any TokenMixer>] = [
        RegistryEntry(LinearAttention.self),
        RegistryEntry(Retention.self),
        RegistryEntry(GatedLinearAttention.self),
        RegistryEntry(DeltaNet.self),
        RegistryEntry(GatedDeltaNet.self),
        RegistryEntry(Mamba2.self),
        RegistryEntry(Mamba.self),
        RegistryEntry(SimplifiedLinearAttention.self),
        RegistryEntry(BaseConv.self),
        RegistryEntry(LegendreMemoryMixer.self),
    ]
}
