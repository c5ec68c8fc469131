extension Catalog {
    /// Positional schemes (slot `positional`).
    public static let positional = Registry<any PositionalScheme>(.positional, [
        RegistryEntry(LearnedAbsolutePositions.self),
        RegistryEntry(NoPositions.self),
    ])
}
