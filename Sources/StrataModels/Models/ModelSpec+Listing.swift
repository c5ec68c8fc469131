/// One spec key that is not a catalog component, as `strata catalog` lists it: the key path, its default
/// (as written in a spec), what it does, and its valid values when it is a choice.
public struct SpecKeyDoc: Equatable, Sendable {
    public var key: String
    public var defaultValue: String
    public var help: String
    /// Valid values with a one-line summary each (empty for free values).
    public var choices: [(value: String, summary: String)]

    public init(_ key: String, _ defaultValue: String, _ help: String, choices: [(String, String)] = []) {
        self.key = key; self.defaultValue = defaultValue; self.help = help
        self.choices = choices.map { (value: $0.0, summary: $0.1) }
    }

    public static func == (a: SpecKeyDoc, b: SpecKeyDoc) -> Bool {
        a.key == b.key && a.defaultValue == b.defaultValue && a.help == b.help
            && a.choices.map(\.value) == b.choices.map(\.value) && a.choices.map(\.summary) == b.choices.map(\.summary)
    }
}

extension NormPlacement {
    /// What the placement computes, for listings.
    public var summary: String {
        switch self {
        case .post: "x ← Norm(x + F(x)) (original Transformer; no final norm by default)"
        case .pre: "x ← x + F(Norm(x)), final norm before the head"
        case .peri: "x ← x + Norm_out(F(Norm_in(x))), plus embedding and final norms (Peri-LN)"
        case .none: "x ← x + F(x), no norms in the block"
        }
    }
}

extension BlockLayout {
    /// What the layout computes, for listings.
    public var summary: String {
        switch self {
        case .sequential: "token mixer sublayer, then channel mixer sublayer"
        case .parallel: "x ← x + F_mix(x) + F_channel(x) from one stream (parallel_block)"
        case .macaron: "½·FFN, token mixer, ½·FFN (macaron)"
        }
    }
}

extension ModelSpec {
    /// The block keys besides its four components: placements and layouts with their summaries. Defaults are
    /// read from `BlockSpec()`, so they cannot drift from the decoder.
    public static var blockKeyDocs: [SpecKeyDoc] {
        let d = BlockSpec()
        return [
            SpecKeyDoc("block.placement", d.placement.rawValue, "where the block's norms sit",
                       choices: NormPlacement.allCases.map { ($0.rawValue, $0.summary) }),
            SpecKeyDoc("block.layout", d.layout.rawValue, "order of the sublayers",
                       choices: BlockLayout.allCases.map { ($0.rawValue, $0.summary) }),
            SpecKeyDoc("block.norm", d.norm.id, "norm kind (catalog slot norm)"),
            SpecKeyDoc("block.token_mixer", d.tokenMixer.id, "token mixer (catalog slot token_mixer)"),
            SpecKeyDoc("block.channel_mixer", d.channelMixer.id, "channel mixer (catalog slot channel_mixer; none: no sublayer)"),
            SpecKeyDoc("block.residual", d.residual.id, "residual scheme (catalog slot residual)"),
            SpecKeyDoc("overrides", "[]", "per-layer replacements of any block key: [{\"layers\": [..], <block keys>}]"),
        ]
    }

    /// Every model-level key (everything outside `block`), with defaults read from `ModelSpec()`; a test
    /// checks the list against the keys a fully populated spec writes.
    public static var modelKeyDocs: [SpecKeyDoc] {
        let d = ModelSpec()
        func number(_ x: Float) -> String { "\(x)" }
        return [
            SpecKeyDoc("name", d.name, "a label for runs and reports"),
            SpecKeyDoc("model", d.model.rawValue, "what the spec builds",
                       choices: [("decoder", "causal LM with a next-token head"),
                                 ("encoder", "bidirectional encoder with pooling and a task head")]),
            SpecKeyDoc("vocab_size", "\(d.vocabSize)", "vocabulary size V"),
            SpecKeyDoc("context_length", "\(d.contextLength)", "longest sequence T"),
            SpecKeyDoc("dim", "\(d.dim)", "model width C"),
            SpecKeyDoc("layers", "\(d.layers)", "number of blocks L"),
            SpecKeyDoc("heads", "\(d.heads)", "query heads H"),
            SpecKeyDoc("head_dim", "dim / heads", "head width D"),
            SpecKeyDoc("positional", d.positional.id, "positional scheme (catalog slot positional)"),
            SpecKeyDoc("embedding_norm", "none (the block norm under peri)", "norm on the embedding output"),
            SpecKeyDoc("final_norm", "the block norm (none under post and none)", "norm before the head"),
            SpecKeyDoc("tie_embeddings", "\(d.tieEmbeddings)", "share the token embedding with the output head"),
            SpecKeyDoc("head_bias", "\(d.headBias)", "bias on the untied decoder head (needs tie_embeddings false)"),
            SpecKeyDoc("init_std", number(d.initStd), "std of the normal weight init (output projections: /√(2L))"),
            SpecKeyDoc("dropout", number(d.dropout), "dropout on embeddings and sublayer outputs"),
            SpecKeyDoc("z_loss", number(d.zLoss), "coefficient c of the logit z-loss c·(log Z)² (catalog z_loss; 0: off)"),
            SpecKeyDoc("type_vocab_size", "\(d.typeVocabSize)", "token-type (segment) embedding rows of an encoder (0: none)"),
            SpecKeyDoc("encoder.pooling", d.encoder.pooling, "how an encoder's token states become one vector",
                       choices: [("mean", "mean over non-padding tokens"), ("cls", "the first token")]),
            SpecKeyDoc("encoder.task", d.encoder.task, "head on the pooled vector",
                       choices: [("classification", "class logits"), ("regression", "real values"),
                                 ("none", "the pooled embedding itself")]),
            SpecKeyDoc("encoder.outputs", "\(d.encoder.outputs)", "classes or regression targets"),
        ]
    }
}
