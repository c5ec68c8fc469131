/// The catalog: one registry per slot. Each variant is one file plus one line in its slot's list
/// (`Norms/Norms.swift`, `TokenMixers/*.swift`, …); `strata catalog` prints them all.
public enum Catalog {
    /// Token mixers: the softmax family and the linear-time family.
    public static let tokenMixers = Registry<any TokenMixer>(.tokenMixer, softmaxFamily + linearFamily)
}
