import Foundation
@testable import InternAuth
import InternTestKit
import Testing

@Suite struct ReplayWindowTests {
    @Test func acceptsEachCounterOnceInAnyOrderWithinTheWindow() {
        var window = ReplayWindow()
        func accept(_ counter: UInt64) -> Bool { window.accept(counter) }
        #expect(!accept(0))
        #expect(accept(5))
        #expect(accept(3))
        #expect(!accept(3))
        #expect(!accept(5))
        #expect(accept(4))
        #expect(accept(1000))
        #expect(accept(6))
        #expect(!accept(6))
        #expect(accept(2000))
        // 2000 - 975 = 1025 > width: too old to tell.
        #expect(!accept(975))
        #expect(accept(977))
        #expect(!accept(1000))
    }

    @Test func shiftsAcrossWordBoundaries() {
        var window = ReplayWindow()
        var generator = SeededGenerator(seed: 7)
        var seen = Set<UInt64>()
        var highest: UInt64 = 0
        for _ in 0..<20_000 {
            let counter = UInt64.random(in: 1...5_000, using: &generator) + highest / 2
            let fresh = !seen.contains(counter) && counter + ReplayWindow.width > highest
            let accepted = window.accept(counter)
            #expect(accepted == fresh, "counter \(counter), highest \(highest)")
            if fresh { seen.insert(counter); highest = max(highest, counter) }
        }
    }
}

@Suite struct AuthenticationTests {
    let secret = CampaignSecret.generate()

    /// A session opened the way a worker opens it: hello, challenge, first sealed request.
    private func handshake(_ gate: Gatekeeper, client: ClientAuth, now: Int64 = 1_000) throws -> Session {
        let (hello, nonce) = client.hello()
        guard case .answer(let challenge) = gate.admit(hello, fromNetwork: true, now: now) else {
            Issue.record("a hello is answered with a challenge")
            throw AuthError.malformed("no challenge")
        }
        return try client.accept(challenge, for: nonce)
    }

    private func payload(_ verdict: Gatekeeper.Verdict) -> ([UInt8], Session)? {
        if case .opened(let payload, let session) = verdict { return (payload, session) }
        return nil
    }

    private func reason(_ verdict: Gatekeeper.Verdict) -> String? {
        if case .rejected(let reason, _, _) = verdict { return reason }
        return nil
    }

    @Test func requestsAndRepliesRoundTrip() throws {
        let gate = Gatekeeper(secret: secret, allowUnsealedFromNetwork: false)
        let client = ClientAuth(secret: secret)
        let session = try handshake(gate, client: client)
        for i in 0..<5 {
            let request = Array("request \(i)".utf8)
            let (opened, serverSession) = try #require(payload(gate.admit(session.seal(request, direction: .toCoordinator), fromNetwork: true, now: 1_100)))
            #expect(opened == request)
            let reply = gate.seal(Array("reply \(i)".utf8), in: serverSession)
            #expect(try client.open(reply, in: session) == Array("reply \(i)".utf8))
        }
        #expect(gate.sessionCount == 1)
    }

    @Test func aPeerWithAnotherSecretIsRejected() throws {
        let gate = Gatekeeper(secret: secret, allowUnsealedFromNetwork: false)
        // Its hello's proof is refused, and it learns why...
        let impostor = ClientAuth(secret: CampaignSecret.generate())
        guard case .rejected(let reason, let answer?, _) = gate.admit(impostor.hello().frame, fromNetwork: true, now: 1_000),
              case .refused(.badCredentials, _)? = try? AuthFrame.parse(answer) else {
            Issue.record("a hello with the wrong proof is refused"); return
        }
        #expect(reason.contains("wrong credentials"))
        // ...and a frame sealed with another key on a genuine nonce does not open a session.
        let (hello, nonce) = ClientAuth(secret: secret).hello()
        guard case .answer(let challenge) = gate.admit(hello, fromNetwork: true, now: 1_000),
              case .challenge(let serverNonce, _) = try AuthFrame.parse(challenge) else { Issue.record("no challenge"); return }
        let forged = Session(id: SessionID(bytes: nonce + serverNonce), secret: CampaignSecret.generate())
        let verdict = gate.admit(forged.seal(Array("hello".utf8), direction: .toCoordinator), fromNetwork: true, now: 1_000)
        #expect(self.reason(verdict)?.contains("bad tag") == true)
        #expect(gate.sessionCount == 0)
    }

    @Test func aFakeCoordinatorCannotProveItself() throws {
        // A fake that answers a hello with a made-up challenge (it cannot compute the proof).
        let client = ClientAuth(secret: secret)
        let (_, nonce) = client.hello()
        let made = AuthFrame.challenge(serverNonce: [UInt8](repeating: 7, count: 16), proof: [UInt8](repeating: 9, count: 32)).encoded()
        #expect(throws: AuthError.coordinatorNotProven) { try client.accept(made, for: nonce) }
        // One with another secret refuses the hello: the client never gets a session either.
        let other = Gatekeeper(secret: CampaignSecret.generate(), allowUnsealedFromNetwork: false)
        guard case .rejected(_, let answer?, _) = other.admit(client.hello().frame, fromNetwork: true, now: 0) else { Issue.record("refused"); return }
        #expect(throws: AuthError.self) { try client.accept(answer, for: nonce) }
        #expect(client.session == nil)
    }

    @Test func everyAlteredByteIsDetected() throws {
        let gate = Gatekeeper(secret: secret, allowUnsealedFromNetwork: false)
        let client = ClientAuth(secret: secret)
        let session = try handshake(gate, client: client)
        let sealed = session.seal(Array("run rm -rf / please".utf8), direction: .toCoordinator)
        for index in sealed.indices {
            var tampered = sealed
            tampered[index] ^= 0x01
            let verdict = gate.admit(tampered, fromNetwork: true, now: 1_100)
            #expect(payload(verdict) == nil, "byte \(index) altered was accepted")
            if case .rejected(_, nil, let hangUp) = verdict { #expect(hangUp, "byte \(index): an altered frame hangs up") }
        }
        #expect(payload(gate.admit(sealed, fromNetwork: true, now: 1_100)) != nil)
        // Cut short or extended: also refused.
        #expect(payload(gate.admit(Array(sealed.dropLast()), fromNetwork: true, now: 1_100)) == nil)
        #expect(payload(gate.admit(sealed + [0], fromNetwork: true, now: 1_100)) == nil)
    }

    @Test func aReplayedOrReflectedFrameIsRejected() throws {
        let gate = Gatekeeper(secret: secret, allowUnsealedFromNetwork: false)
        let client = ClientAuth(secret: secret)
        let session = try handshake(gate, client: client)
        let first = session.seal(Array("one".utf8), direction: .toCoordinator)
        let (_, serverSession) = try #require(payload(gate.admit(first, fromNetwork: true, now: 1_100)))
        let replayed = gate.admit(first, fromNetwork: true, now: 1_200)
        #expect(reason(replayed)?.contains("replayed") == true)
        // A replayed copy is dropped, not hung up on: the genuine peer's other requests go on.
        guard case .rejected(_, nil, false) = replayed else { Issue.record("a replay is dropped without hanging up"); return }
        // A reply replayed to the worker, and a request reflected back to it as a reply.
        let reply = gate.seal(Array("ok".utf8), in: serverSession)
        _ = try client.open(reply, in: session)
        #expect(throws: AuthError.replayed(1)) { try client.open(reply, in: session) }
        let second = session.seal(Array("two".utf8), direction: .toCoordinator)
        #expect(throws: AuthError.wrongDirection) { try client.open(second, in: session) }
    }

    @Test func anUnknownSessionIsToldToHandshakeAgain() throws {
        let client = ClientAuth(secret: secret)
        let before = Gatekeeper(secret: secret, allowUnsealedFromNetwork: false)
        let session = try handshake(before, client: client)
        // The coordinator restarted: its nonces are no longer its own.
        let after = Gatekeeper(secret: secret, allowUnsealedFromNetwork: false)
        guard case .answer(let answer) = after.admit(session.seal([1], direction: .toCoordinator), fromNetwork: true, now: 1_100) else {
            Issue.record("an unknown session is answered"); return
        }
        #expect(throws: AuthError.refused(.unknownSession, "unknown or expired session: handshake again")) { try client.open(answer, in: session) }
        // A nonce older than the handshake lifetime opens nothing, even in the same process.
        let late = try handshake(before, client: ClientAuth(secret: secret), now: 5_000)
        guard case .answer = before.admit(late.seal([1], direction: .toCoordinator), fromNetwork: true, now: 5_001 + Gatekeeper.handshakeLifetimeMillis) else {
            Issue.record("an expired nonce opens no session"); return
        }
        #expect(before.sessionCount == 0)
    }

    /// "Unknown session" is said only to a peer holding the secret: a stranger's sealed-looking
    /// frame gets no answer (a coordinator sends strangers nothing; docs/security.md).
    @Test func anUnknownSessionOfAStrangerGetsNoAnswer() throws {
        let gate = Gatekeeper(secret: secret, allowUnsealedFromNetwork: false)
        let other = CampaignSecret.generate()
        let stranger = try handshake(Gatekeeper(secret: other, allowUnsealedFromNetwork: false), client: ClientAuth(secret: other))
        guard case .rejected(let reason, nil, true) = gate.admit(stranger.seal([1], direction: .toCoordinator), fromNetwork: true, now: 1_100) else {
            Issue.record("a stranger's unknown session is hung up on without an answer"); return
        }
        #expect(reason.contains("not sealed with this campaign's secret"))
    }

    @Test func unsealedMessagesOnlyFromLocalPeersUnlessInsecure() {
        let gate = Gatekeeper(secret: secret, allowUnsealedFromNetwork: false)
        let message = Array("IN plain".utf8)
        guard case .plain(let bytes) = gate.admit(message, fromNetwork: false, now: 0) else { Issue.record("local plain admitted"); return }
        #expect(bytes == message)
        guard case .rejected(let reason, let answer?, _) = gate.admit(message, fromNetwork: true, now: 0) else {
            Issue.record("network plain refused with an answer"); return
        }
        #expect(reason == "an unauthenticated message")
        guard case .refused(.authenticationRequired, _)? = try? AuthFrame.parse(answer) else { Issue.record("answer says why"); return }
        let insecure = Gatekeeper(secret: nil, allowUnsealedFromNetwork: true)
        guard case .plain = insecure.admit(message, fromNetwork: true, now: 0) else { Issue.record("--insecure admits plain"); return }
        guard case .rejected(_, let notConfigured?, _) = insecure.admit(ClientAuth(secret: secret).hello().frame, fromNetwork: true, now: 0),
              case .refused(.notConfigured, _)? = try? AuthFrame.parse(notConfigured) else {
            Issue.record("a coordinator without credentials says so"); return
        }
    }

    /// Garbage from a stranger never crashes the gate, and is never let in: it is rejected, with
    /// a hang-up, and whatever answer it gets is a refusal (which the coordinator sends to a local
    /// peer only: a stranger on the network is sent nothing, docs/security.md).
    @Test func garbageNeverCrashes_andIsRejected() {
        let gate = Gatekeeper(secret: secret, allowUnsealedFromNetwork: false)
        var generator = SeededGenerator(seed: 11)
        for length in 0..<300 {
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if length >= 4 { bytes[0] = 0x49; bytes[1] = 0x41; bytes[2] = 1; bytes[3] = UInt8(length % 6) }
            switch gate.admit(bytes, fromNetwork: true, now: 0) {
            case .rejected(let reason, let answer, let hangUp):
                #expect(hangUp, "\(length) bytes: not hung up on (\(reason))")
                if let answer {
                    guard case .refused? = try? AuthFrame.parse(answer) else {
                        Issue.record("\(length) bytes: answered with something other than a refusal (\(reason))")
                        continue
                    }
                }
            default:
                Issue.record("\(length) random bytes were let in or answered")
            }
            _ = try? AuthFrame.parse(bytes)
        }
    }

    @Test func secretsNeverPrint() throws {
        let secret = CampaignSecret.generate()
        #expect("\(secret)" == "CampaignSecret(redacted)")
        #expect(!"\(Credentials(secret: secret, directory: nil))".contains(secret.hexText))
        #expect(throws: CredentialError.self) { try CampaignSecret(hex: "abcd", source: "test") }
        #expect(throws: CredentialError.self) { try CampaignSecret(hex: String(repeating: "zz", count: 32), source: "test") }
        #expect(try CampaignSecret(hex: " \(secret.hexText)\n", source: "test").key == secret.key)
    }
}

@Suite struct CredentialFileTests {
    @Test func createdDirectoryLoadsAndLooseModesAreRefused() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/auth"
        let created = try Credentials.createDirectory(path)
        let loaded = try Credentials.load(directory: path)
        #expect(loaded.secret.key == created.secret.key)
        var info = stat()
        #expect(stat(path + "/secret", &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o700)
        #expect(throws: CredentialError.self) { try Credentials.createDirectory(path) }

        chmod(path + "/secret", 0o644)
        let error = #expect(throws: CredentialError.self) { try Credentials.load(directory: path) }
        #expect(error?.message.contains("chmod 600") == true)
        #expect(error?.message.contains(created.secret.hexText) == false)
        chmod(path + "/secret", 0o400)
        #expect(try Credentials.load(directory: path).secret.key == created.secret.key)

        #expect(throws: CredentialError.self) { try Credentials.load(directory: dir.path + "/missing") }
        let fromEnv = try Credentials.resolve(directory: nil, environment: ["INTERN_SECRET": created.secret.hexText])
        #expect(fromEnv?.secret.key == created.secret.key)
        #expect(try Credentials.resolve(directory: nil, environment: ["INTERN_AUTH_DIR": path])?.directory == path)
        #expect(try Credentials.resolve(directory: nil, environment: [:]) == nil)
    }
}
