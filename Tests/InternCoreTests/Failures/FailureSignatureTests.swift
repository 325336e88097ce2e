import InternCore
import Testing

@Suite struct FailureSignatureTests {
    func signature(_ log: String, sourceLocation: SourceLocation = #_sourceLocation) -> FailureSignature? {
        let signature = FailureSignature.make(fromLogTail: log)
        if let signature {
            #expect(signature.digest.count == 16, sourceLocation: sourceLocation)
            #expect(signature.digest.allSatisfy { $0.isHexDigit && !$0.isUppercase }, sourceLocation: sourceLocation)
            #expect(signature.text.count <= FailureSignature.textLimit, sourceLocation: sourceLocation)
            #expect(signature.excerpt.count <= FailureSignature.excerptLimit, sourceLocation: sourceLocation)
        }
        return signature
    }

    @Test func tracebackKeepsFramesAndExceptionWithoutVaryingDetails() throws {
        let oom = try #require(signature(FailureFixtures.cudaOOM()))
        #expect(oom.text.hasPrefix("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate <size>. GPU <n> has a total capacity of <size> of which"))
        #expect(oom.text.contains(" @ module.py:_wrapped_call_impl < trainer.py:train < train.py:main < train.py:<module>"))
        #expect(!oom.text.contains("1518") && !oom.text.contains("/home/ana"))
        let module = try #require(signature(FailureFixtures.missingModule()))
        #expect(module.text == "ModuleNotFoundError: No module named 'transfomers' @ train.py:<module>")
        #expect(module.excerpt == "ModuleNotFoundError: No module named 'transfomers'")
    }

    @Test func sameErrorSameDigestAcrossRuns() throws {
        let a = try #require(signature(FailureFixtures.cudaOOM()))
        let b = try #require(signature(FailureFixtures.cudaOOM(line: 1520, allocate: "512.00 MiB", pid: 7, venv: "/tmp/tmpq8x2za/env")))
        #expect(a.digest == b.digest)
        #expect(a.excerpt != b.excerpt)
        let c = try #require(signature(FailureFixtures.missingModule(path: "/scratch/run-17/train.py", line: 4)))
        #expect(c.digest == signature(FailureFixtures.missingModule())?.digest)

        // Shapes of any rank, addresses, pids, uuids, hex ids, IPs, temporary paths, long quoted text.
        let variants: [(String, String)] = [
            ("RuntimeError: mat1 and mat2 shapes cannot be multiplied (32x512 and 256x10)",
             "RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x1024 and 128x7)"),
            ("RuntimeError: shape '[32, 128, 768]' is invalid for input of size 4194304",
             "RuntimeError: shape '[8, 768]' is invalid for input of size 1"),
            ("Segmentation fault at 0x7f3a2b10c000 in pid 4242", "Segmentation fault at 0x55d1e0 in pid 17"),
            ("Error: run 3f2504e0-4f89-11d3-9a0c-0305e82c3301 failed on 10.0.0.12:29500",
             "Error: run 9b2c1d7e-0000-4abc-8def-123456789abc failed on 192.168.1.7:41234"),
            ("ERROR: checkpoint a3f9c2e1b0 missing in /tmp/tmpa8x9q2_/ckpt", "ERROR: checkpoint 77bb01cd99 missing in /tmp/tmpzz1kk0/ckpt"),
            ("FileNotFoundError: [Errno 2] No such file or directory: '/tmp/tmpab12cd/data.csv'",
             "FileNotFoundError: [Errno 2] No such file or directory: '/var/tmp/x/y/data.csv'"),
            (#"ValueError: got "the quick brown fox jumps over the lazy dog again and again" for --mode"#,
             #"ValueError: got "a completely different, rather long string that is still just data" for --mode"#),
            ("\u{1B}[31mERROR\u{1B}[0m: step 10 failed   with  code 3", "ERROR: step 99 failed with code 4"),
        ]
        for (first, second) in variants {
            let x = try #require(signature(first + "\n"))
            let y = try #require(signature(second + "\n"))
            #expect(x.digest == y.digest, "\(x.text) vs \(y.text)")
        }
    }

    @Test func differentErrorsDiffer() throws {
        let module = try #require(signature(FailureFixtures.missingModule()))
        let otherModule = try #require(signature(FailureFixtures.missingModule("datsets")))
        #expect(module.digest != otherModule.digest)
        // Same message, other exception type.
        let importError = FailureFixtures.missingModule().replacing("ModuleNotFoundError", with: "ImportError")
        #expect(signature(importError)?.digest != module.digest)
        // Same exception, other frame.
        let otherFrame = FailureFixtures.missingModule().replacing("in <module>", with: "in load_model")
        #expect(signature(otherFrame)?.digest != module.digest)
        #expect(signature("KeyError: 'lr'\n")?.digest != signature("KeyError: 'momentum'\n")?.digest)
    }

    @Test func withoutATracebackTheLastErrorLineOrTheLastLine() throws {
        let log = "loading data\nERROR: could not open shard 12\nstep 1 done\n"
        let error = try #require(signature(log))
        #expect(error.excerpt == "ERROR: could not open shard 12" && error.text == "ERROR: could not open shard <n>")
        let progress = try #require(signature("epoch 1\n 40%|████      | 4/10 [00:01<00:02, 3.1it/s]\r 50%|█████     | 5/10 [00:02<00:01, 3.2it/s]\n"))
        #expect(progress.excerpt == "50%|█████     | 5/10 [00:02<00:01, 3.2it/s]")
        #expect(signature("") == nil)
        #expect(signature("\n \n\t\n") == nil)
        #expect(signature("\u{1B}[2K\r\n12345 678\n") == nil)
    }

    @Test func theWrappedTracebackBeatsTorchrunsWrapper() throws {
        let log = FailureFixtures.missingModule() + """
            Traceback (most recent call last):
              File "/usr/bin/torchrun", line 8, in <module>
                sys.exit(main())
            torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
            """
        #expect(signature(log)?.digest == signature(FailureFixtures.missingModule())?.digest)
    }

    @Test func fallbackIsUsedVerbatim() {
        let a = FailureSignature.make(fallback: "oom:  signal 9")
        #expect(a.text == "oom: signal 9" && a.excerpt == "oom: signal 9")
        #expect(a.digest == FailureSignature.make(fallback: "oom: signal 9").digest)
        #expect(a.digest != FailureSignature.make(fallback: "oom: signal 6").digest)
        // FNV-1a 64, stable everywhere.
        #expect(FailureSignature.digest(of: "") == "cbf29ce484222325")
        #expect(FailureSignature.digest(of: "a") == "af63dc4c8601ec8c")
    }

    @Test func hugeLinesAreCheap() throws {
        let line = "RuntimeError: " + String(repeating: "x1/", count: 35_000) + "\n"
        let log = String(repeating: "a", count: 100_000) + "\n" + line + String(repeating: "\r50%", count: 10_000) + "\n"
        let start = ContinuousClock.now
        let result = try #require(signature(log))
        let diagnosis = FailureClassifier().classify(FailureEvidence(kind: .exited(1), logTail: log))
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(result.excerpt.hasPrefix("RuntimeError: x1/"))
        #expect(diagnosis.failureClass == .unknown)
    }
}
