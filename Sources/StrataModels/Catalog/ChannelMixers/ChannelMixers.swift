extension Catalog {
    /// Channel mixers (slot `channel_mixer`).
    public static let channelMixers = Registry<any ChannelMixer>(.channelMixer, [
        RegistryEntry(MLP.self),
        RegistryEntry(NoChannelMixer.self),
    ])
}
