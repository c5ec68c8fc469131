import ArgumentParser
import Foundation
import Strata

/// One catalog entry as printed by `strata catalog` (and its JSON form).
struct CatalogItem: Encodable {
    /// One documented option.
    struct Option: Encodable {
        var key: String
        var defaultValue: String
        var help: String
        enum CodingKeys: String, CodingKey { case key, defaultValue = "default", help }
    }
    var slot: String
    var id: String
    var summary: String
    var paper: String
    var options: [Option]
}

/// `strata catalog`: every registered component id per slot, with its summary, paper and options.
struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "List every component id per slot, with its paper and options.")

    @Option(help: "Only this slot: \(Slot.allCases.map(\.rawValue).joined(separator: ", ")).")
    var slot: String?
    @Flag(help: "Print a JSON array instead of text.")
    var json = false

    func validate() throws {
        if let slot, Slot(rawValue: slot) == nil {
            throw ValidationError("--slot \(slot): valid slots are \(Slot.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        var items = CatalogCommand.items(Catalog.norms) + CatalogCommand.items(Catalog.tokenMixers)
        items += CatalogCommand.items(Catalog.channelMixers) + CatalogCommand.items(Catalog.residuals)
        items += CatalogCommand.items(Catalog.positional)
        if let slot { items = items.filter { $0.slot == slot } }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(items), as: UTF8.self))
            return
        }
        for slot in Slot.allCases {
            let inSlot = items.filter { $0.slot == slot.rawValue }
            guard !inSlot.isEmpty else { continue }
            print("\(slot.rawValue) (\(inSlot.count))")
            for item in inSlot {
                print("  \(item.id) — \(item.summary)")
                print("      paper: \(item.paper)")
                for o in item.options { print("      \(o.key) = \(o.defaultValue): \(o.help)") }
            }
            print("")
        }
    }

    /// The entries of one registry in registration order.
    static func items<P>(_ registry: Registry<P>) -> [CatalogItem] {
        registry.entries.map { e in
            CatalogItem(slot: registry.slot.rawValue, id: e.info.id, summary: e.info.summary, paper: e.info.paper,
                        options: e.optionDocs.map { .init(key: $0.key, defaultValue: $0.defaultValue, help: $0.help) })
        }
    }
}
