import InternCore
import Testing

@Suite struct FailureClassifierTests {
    let classifier = FailureClassifier()

    func classify(_ kind: FailureEvidence.Kind, killedByIntern: Bool = false, _ log: String = "",
                  rss: UInt64? = nil) -> FailureDiagnosis {
        classifier.classify(FailureEvidence(kind: kind, killedByIntern: killedByIntern, logTail: log, peakRSSBytes: rss))
    }

    @Test func howItEndedDecidesFirst() {
        #expect(classify(.timedOut, killedByIntern: true, FailureFixtures.cudaOOM()).failureClass == .timeout)
        #expect(classify(.preempted, killedByIntern: true).failureClass == .preempted)
        #expect(classify(.lost).failureClass == .lost)
        let start = classify(.failedToStart("no such file or directory: python4"))
        #expect(start.failureClass == .user && start.reason.contains("python4"))
    }

    @Test func pytorchCudaOOMIsOOM() throws {
        let diagnosis = classify(.exited(1), FailureFixtures.cudaOOM())
        #expect(diagnosis.failureClass == .oom)
        #expect(diagnosis.reason == "CUDA out of memory in the log")
        let signature = try #require(diagnosis.signature)
        #expect(signature.excerpt.hasPrefix("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"))
    }

    @Test func otherOutOfMemoryForms() {
        let logs = [
            "RuntimeError: CUDA error: out of memory\n",
            "E1203 CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`\n",
            "terminate called after throwing an instance of 'std::bad_alloc'\n  what():  std::bad_alloc\n",
            "Traceback (most recent call last):\n  File \"prep.py\", line 9, in <module>\n    x = [0] * 10**12\nMemoryError\n",
            "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=41.0. Some of your processes may have been killed by the cgroup out-of-memory handler.\n",
            "epoch 1\nKilled\n",
            "run.sh: line 3: 81234 Killed                  python3 train.py --lr 0.1\n",
        ]
        for log in logs {
            #expect(classify(.exited(1), log).failureClass == .oom, "\(log)")
        }
    }

    @Test func sigkillNotSentByInternIsTheOOMKiller() {
        let diagnosis = classify(.signaled(9), "step 1200 loss=0.41\n", rss: 64 << 30)
        #expect(diagnosis.failureClass == .oom)
        #expect(diagnosis.reason == "killed by SIGKILL not sent by intern (host OOM killer?); peak RSS 64.0 GiB")
        #expect(classify(.exited(137)).failureClass == .oom)
        // Intern's own SIGKILL (a cancel escalated) says nothing about memory.
        let own = classify(.signaled(9), killedByIntern: true)
        #expect(own.failureClass == .unknown && own.reason == "killed by SIGKILL sent by intern")
    }

    @Test func sigtermNotSentByInternIsPreemption() {
        // SLURM's scancel, preemption or time limit signal every process of the job, the job included.
        let diagnosis = classify(.signaled(15), "step 1200 loss=0.41\n")
        #expect(diagnosis.failureClass == .preempted)
        #expect(diagnosis.reason.hasPrefix("killed by SIGTERM not sent by intern"))
        #expect(classify(.exited(143)).failureClass == .preempted)
        // Intern's own SIGTERM (a cancel) is not a preemption; nor is another signal.
        #expect(classify(.signaled(15), killedByIntern: true).failureClass == .unknown)
        #expect(classify(.signaled(11)).failureClass == .unknown)
        // Out of memory stays the root cause when the log says so.
        #expect(classify(.signaled(15), "torch.cuda.OutOfMemoryError: CUDA out of memory.\n").failureClass == .oom)
    }

    @Test func nonFiniteLossIsDiverged() {
        let diagnosis = classify(.exited(1), FailureFixtures.trainerNaN)
        #expect(diagnosis.failureClass == .diverged)
        #expect(diagnosis.reason.contains("{'loss': nan"))
        let logs = [
            #"{"step": 120, "loss": NaN}"# + "\n",
            "METRIC step=300 train_loss=nan\n",
            "epoch 3 | eval/loss: inf | acc 0.1\n",
            "loss: tensor(nan, device='cuda:0', grad_fn=<NllLossBackward0>)\n",
            "RuntimeError: Loss is NaN, stopping training\n",
            "Detected nan loss at step 5000\n",
            "Training DIVERGED at step 88\n",
        ]
        for log in logs {
            #expect(classify(.exited(1), log).failureClass == .diverged, "\(log)")
        }
        // Words that only look like it.
        for log in ["{'loss': 0.693, 'note': 'nan'}\n", "KL divergence 0.3\n", "loss_scale: inf, skipping step\nexit\n"] {
            #expect(classify(.exited(1), log).failureClass == .unknown, "\(log)")
        }
    }

    @Test func ncclWatchdogTimeoutIsInfra() {
        let diagnosis = classify(.signaled(6), FailureFixtures.ncclWatchdog)
        #expect(diagnosis.failureClass == .infra)
        #expect(diagnosis.reason == "Watchdog caught collective operation timeout in the log (infrastructure)")
    }

    @Test func infraPatterns() {
        let logs = [
            "torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1275, unhandled system error\n",
            "ConnectionResetError: [Errno 104] Connection reset by peer\n",
            "OSError: [Errno 28] No space left on device: '/scratch/ckpt/step-1000'\n",
            "OSError: [Errno 5] Input/output error\n",
            "OSError: [Errno 116] Stale file handle\n",
            "requests.exceptions.ConnectionError: Temporary failure in name resolution\n",
            "nfs: server fs01 not responding, still trying\n",
        ]
        for log in logs {
            #expect(classify(.exited(1), log).failureClass == .infra, "\(log)")
        }
        // "infs" is not NFS.
        #expect(classify(.exited(1), "found infs in gradients\n").failureClass == .unknown)
        // An illegal memory access is a bug; the NCCL errors that follow it are consequences.
        let illegal = """
            RuntimeError: CUDA error: an illegal memory access was encountered
            [rank0]: NCCL error: unhandled cuda error
            """
        #expect(classify(.signaled(6), illegal).failureClass == .unknown)
    }

    @Test func configuredPatterns() {
        let configured = FailureClassifier(infraPatterns: ["slurmstepd: error"], userPatterns: ["CONFIG INVALID"])
        let infra = configured.classify(FailureEvidence(kind: .exited(1), logTail: "SLURMSTEPD: ERROR: *** JOB 42 CANCELLED ***\n"))
        #expect(infra.failureClass == .infra && infra.reason.contains("configured infra pattern"))
        let user = configured.classify(FailureEvidence(kind: .exited(1), logTail: "config invalid: batch_size must divide 64\n"))
        #expect(user.failureClass == .user)
        #expect(classify(.exited(1), "config invalid\n").failureClass == .unknown)
    }

    @Test func deterministicMistakesAreUser() {
        let module = classify(.exited(1), FailureFixtures.missingModule())
        #expect(module.failureClass == .user)
        #expect(module.reason == "ModuleNotFoundError raised (the same command fails the same way every time)")
        let usage = classify(.exited(2), FailureFixtures.argparseUsage)
        #expect(usage.failureClass == .user && usage.reason.contains("unrecognized arguments"))
        let exit2 = classify(.exited(2), "something odd\n")
        #expect(exit2.failureClass == .user && exit2.reason == "exit code 2 (usage error)")
        let syntax = """
            Traceback (most recent call last):
              File "/home/ana/exp/train.py", line 12
                print("epoch", epoch
                     ^
            SyntaxError: '(' was never closed
            """
        #expect(classify(.exited(1), syntax).failureClass == .user)
        let attribute = "[rank0]: Traceback (most recent call last):\n[rank0]:   File \"/x/train.py\", line 5, in main\n[rank0]:     model.fit()\n[rank0]: AttributeError: 'Model' object has no attribute 'fit'\n"
        #expect(classify(.exited(1), attribute).failureClass == .user)
        // Not conservative enough to be sure: ValueError, KeyError, RuntimeError stay unknown.
        let value = classify(.exited(1), "Traceback (most recent call last):\n  File \"t.py\", line 1, in <module>\nValueError: bad shape\n")
        #expect(value.failureClass == .unknown && value.reason == "exit code 1 after ValueError")
    }

    @Test func otherSignalsAreUnknownUnlessTheLogSays() {
        let segv = classify(.signaled(11), "Fatal Python error: Segmentation fault\n")
        #expect(segv.failureClass == .unknown && segv.reason == "killed by SIGSEGV (signal 11)")
        #expect(classify(.signaled(6), FailureFixtures.missingModule()).failureClass == .user)
    }

    @Test func garbageNeverTraps() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for round in 0..<200 {
            var bytes: [UInt8] = []
            for _ in 0..<(round * 23 % 4_000) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes.append(UInt8(truncatingIfNeeded: state >> 56))
            }
            let log = String(decoding: bytes, as: UTF8.self)
            let diagnosis = classify(.exited(1), log)
            #expect(FailureClass.allCases.contains(diagnosis.failureClass))
            if let signature = diagnosis.signature {
                #expect(signature.digest.count == 16 && signature.text.count <= FailureSignature.textLimit)
            }
        }
        // Escape sequences cut short, lone carriage returns, NULs.
        for log in ["\u{1B}", "\u{1B}[", "\u{1B}]0;title", "\r\r\r", "\0\0Error\0", "Traceback (most recent call last):"] {
            _ = classify(.signaled(11), log)
        }
    }
}
