import Foundation
import InternCore
import InternSpec
import Testing

/// The `sampler:` forms of the Bayesian samplers: the multivariate TPE by default, the independent
/// one with `multivariate: false`, the Gaussian process with `type: gp`; what each accepts, and
/// their JSON as the store keeps it.
@Suite struct SamplerSpecTests {
    static let base = "name: t\ncommand: [train, \"{lr}\"]\ntrials: 20\nspace:\n  lr: {type: loguniform, low: 1.0e-5, high: 1.0e-1}\n"
        + "objective: {metric: loss, direction: minimize}\n"

    static func parse(_ sampler: String) throws -> SamplerKind {
        try CampaignSpecParser.parse(yaml: base + "sampler: " + sampler + "\n", file: "c.yaml", baseDirectory: "/tmp").sampler
    }

    static func failure(_ yaml: String) -> SpecError? {
        do {
            _ = try CampaignSpecParser.parse(yaml: yaml, file: "c.yaml", baseDirectory: "/tmp")
            return nil
        } catch {
            return error
        }
    }

    @Test func bayesianSamplerForms() throws {
        #expect(try Self.parse("tpe") == .tpe(seed: 0, startup: 10))
        #expect(try Self.parse("{type: tpe, multivariate: true}") == .tpe(seed: 0, startup: 10))
        #expect(try Self.parse("{type: tpe, seed: 4, startup: 6, multivariate: false}") == .independentTPE(seed: 4, startup: 6))
        #expect(try Self.parse("gp") == .gp(seed: 0, startup: 10))
        #expect(try Self.parse("{type: gp, seed: 2, startup: 8}") == .gp(seed: 2, startup: 8))
    }

    @Test func multivariateIsForTPE_andGPNeedsAnObjective() throws {
        let gpMultivariate = try #require(Self.failure(Self.base + "sampler: {type: gp, multivariate: false}\n"))
        #expect(gpMultivariate.description.contains("for type: tpe"), "\(gpMultivariate)")
        for other in ["random", "grid"] {
            let multivariate = try #require(Self.failure(Self.base + "sampler: {type: \(other), multivariate: false}\n"))
            #expect(multivariate.description.contains("sampler.multivariate"), "\(multivariate)")
        }
        let notBoolean = try #require(Self.failure(Self.base + "sampler: {type: tpe, multivariate: sometimes}\n"))
        #expect(notBoolean.description.contains("sampler.multivariate"), "\(notBoolean)")
        let noObjective = try #require(Self.failure(
            "name: t\ncommand: [train, \"{lr}\"]\ntrials: 20\nspace:\n  lr: {type: uniform, low: 0, high: 1}\nsampler: gp\n"))
        #expect(noObjective.description.contains("sampler gp learns from the objective"), "\(noObjective)")
        let typo = try #require(Self.failure(Self.base + "sampler: gpp\n"))
        #expect(typo.description.contains("did you mean 'gp'"), "\(typo)")
    }

    @Test func samplerKindsRoundTripThroughJSON() throws {
        for kind in [SamplerKind.grid, .random(seed: 3), .tpe(seed: 4, startup: 5), .independentTPE(seed: 6, startup: 7), .gp(seed: 8, startup: 9)] {
            let data = try JSONEncoder().encode(kind)
            #expect(try JSONDecoder().decode(SamplerKind.self, from: data) == kind, "\(String(decoding: data, as: UTF8.self))")
        }
        // A campaign stored before the multivariate TPE existed reads as the (now multivariate) default.
        let old = try JSONDecoder().decode(SamplerKind.self, from: Data(#"{"type":"tpe","seed":1,"startup":4}"#.utf8))
        #expect(old == .tpe(seed: 1, startup: 4))
        let independent = try JSONEncoder().encode(SamplerKind.independentTPE(seed: 1, startup: 4))
        #expect(String(decoding: independent, as: UTF8.self).contains(#""multivariate":false"#))
    }
}
