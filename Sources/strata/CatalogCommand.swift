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

/// A spec key that is not a component (placements, layouts, model-level options), as printed by
/// `strata catalog` and in the `spec_keys` part of its JSON form.
struct SpecKeyItem: Encodable {
    /// One valid value of a choice key.
    struct Choice: Encodable { var value: String; var summary: String }
    var key: String
    var defaultValue: String
    var help: String
    var choices: [Choice]
    enum CodingKeys: String, CodingKey { case key, defaultValue = "default", help, choices }

    init(_ d: SpecKeyDoc) {
        key = d.key; defaultValue = d.defaultValue; help = d.help
        choices = d.choices.map { Choice(value: $0.value, summary: $0.summary) }
    }
}

/// The JSON form of `strata catalog --json`: the components per slot and the other spec keys.
struct CatalogListing: Encodable {
    var components: [CatalogItem]
    var specKeys: [SpecKeyItem]
    enum CodingKeys: String, CodingKey { case components, specKeys = "spec_keys" }
}

/// `strata catalog`: every registered component id per slot, with its summary, paper and options.
struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "List every component id per slot, with its paper and options.")

    @Option(help: "Only this slot: \(Slot.allCases.map(\.rawValue).joined(separator: ", ")).")
    var slot: String?
    @Flag(help: "Print JSON ({\"components\": [...], \"spec_keys\": [...]}) instead of text.")
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
        // Placements, layouts and model-level keys are not in a slot: listed in full, or not at all under --slot.
        let keys = slot == nil ? CatalogCommand.specKeys() : []
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            print(String(decoding: try encoder.encode(CatalogListing(components: items, specKeys: keys)), as: UTF8.self))
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
        guard !keys.isEmpty else { return }
        print("block and model keys (\(keys.count))")
        for k in keys {
            print("  \(k.key) = \(k.defaultValue): \(k.help)")
            for c in k.choices { print("      \(c.value) — \(c.summary)") }
        }
    }

    /// Block keys (placements, layouts, components, overrides), then the model-level keys.
    static func specKeys() -> [SpecKeyItem] {
        (ModelSpec.blockKeyDocs + ModelSpec.modelKeyDocs).map(SpecKeyItem.init)
    }

    /// The entries of one registry in registration order.
    static func items<P>(_ registry: Registry<P>) -> [CatalogItem] {
        registry.entries.map { e in
            CatalogItem(slot: registry.slot.rawValue, id: e.info.id, summary: e.info.summary, paper: e.info.paper,
                        options: e.optionDocs.map { .init(key: $0.key, defaultValue: $0.defaultValue, help: $0.help) })
        }
    }
}
