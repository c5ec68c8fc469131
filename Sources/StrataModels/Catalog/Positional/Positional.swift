extension Catalog {
    /// Positional schemes (slot `positional`).
    public static let positional = Registry<any PositionalScheme>(.positional, [
        RegistryEntry(LearnedAbsolutePositions.self),
        RegistryEntry(NoPositions.self),
        RegistryEntry(RotaryPositions.self),
        RegistryEntry(ALiBiPositions.self),
        RegistryEntry(SinusoidalPositions.self),
    ])
}
