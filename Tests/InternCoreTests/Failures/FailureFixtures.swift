/// Realistic log tails of failed training jobs, for the classifier and signature tests.
enum FailureFixtures {
    /// A PyTorch CUDA OOM in a Hugging Face Trainer run, with tqdm progress before it.
    static func cudaOOM(line: Int = 1518, allocate: String = "2.00 GiB", pid: Int = 48213, venv: String = "/home/ana/.venv") -> String {
        """
        \u{1B}[A  3%|▎         | 31/1000 [00:12<06:21,  2.54it/s]\r  3%|▎         | 32/1000 [00:12<06:20,  2.55it/s]
        Traceback (most recent call last):
          File "/home/ana/exp/train.py", line 88, in <module>
            main()
          File "/home/ana/exp/train.py", line 81, in main
            trainer.train()
          File "\(venv)/lib/python3.11/site-packages/transformers/trainer.py", line \(line + 337), in train
            return inner_training_loop(
                   ^^^^^^^^^^^^^^^^^^^^
          File "\(venv)/lib/python3.11/site-packages/torch/nn/modules/module.py", line \(line), in _wrapped_call_impl
            return self._call_impl(*args, **kwargs)
        torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate \(allocate). GPU 0 has a total capacity of 79.15 GiB of which 1.03 GiB is free. Process \(pid) has 78.11 GiB memory in use. Of the allocated memory 75.21 GiB is allocated by PyTorch, and 2.13 GiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)

        """
    }

    /// An NCCL watchdog timeout on one rank of a torchrun job.
    static let ncclWatchdog = """
        [rank1]:[E ProcessGroupNCCL.cpp:563] [Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=4821, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=600000) ran for 600034 milliseconds before timing out.
        [rank1]:[E ProcessGroupNCCL.cpp:1537] [PG 0 Rank 1] Timeout at NCCL work: 4821, last enqueued NCCL work: 4821, last completed NCCL work: 4820.
        [rank1]:[E ProcessGroupNCCL.cpp:577] [Rank 1] To avoid data inconsistency, we are taking the entire process down.
        terminate called after throwing an instance of 'c10::DistBackendError'
          what():  [PG 0 Rank 1] Process group watchdog thread terminated with exception: [Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=4821, OpType=ALLREDUCE) ran for 600034 milliseconds before timing out.

        """

    /// A typo in an import.
    static func missingModule(_ module: String = "transfomers", path: String = "/home/ana/exp/train.py", line: Int = 3) -> String {
        """
        Traceback (most recent call last):
          File "\(path)", line \(line), in <module>
            from \(module) import AutoModelForCausalLM
        ModuleNotFoundError: No module named '\(module)'

        """
    }

    /// Trainer log lines whose loss became NaN.
    static let trainerNaN = """
        {'loss': 2.3012, 'grad_norm': 4.1, 'learning_rate': 4.9e-05, 'epoch': 0.05}
        {'loss': 1.8923, 'grad_norm': 12.7, 'learning_rate': 4.8e-05, 'epoch': 0.1}
        {'loss': nan, 'grad_norm': nan, 'learning_rate': 4.7e-05, 'epoch': 0.15}
        ValueError: metrics contain non-finite values

        """

    /// An argparse usage error (exit status 2).
    static let argparseUsage = """
        usage: train.py [-h] [--lr LR] [--epochs EPOCHS]
        train.py: error: unrecognized arguments: --learning-rate 0.001

        """
}
