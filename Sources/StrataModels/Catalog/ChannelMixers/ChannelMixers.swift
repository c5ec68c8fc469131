extension Catalog {
    /// Channel mixers (slot `channel_mixer`).
    public static let channelMixers = Registry<any ChannelMixer>(.channelMixer, [
        RegistryEntry(MLP.self),
        RegistryEntry(NoChannelMixer.self),
        RegistryEntry(SwiGLU.self),
        RegistryEntry(GLU.self),
        RegistryEntry(PolyReLUFFN.self),
        RegistryEntry(PolyNormFFN.self),
        RegistryEntry(HourglassFFN.self),
        RegistryEntry(TopKFFN.self),
    ])
}
