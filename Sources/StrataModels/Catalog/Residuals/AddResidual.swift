import StrataCore
import StrataNN

/// The plain residual sum x + y (catalog residual `add`).
public final class AddResidual: Module, Component, ResidualConnection {
    public typealias Options = NoOptions
    public static let info = ComponentInfo(id: "add", summary: "plain residual sum x + F(x)")

    public init(options: Options, context: BuildContext, rng: inout RNG) { super.init() }
    public static func parameterCount(options: Options, context: BuildContext) -> Int { 0 }
    public func combine(_ x: Tensor, _ y: Tensor) -> Tensor { x + y }
}
