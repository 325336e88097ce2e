import CZstd

/// A streaming zstd compressor that produces one frame at a time.
///
/// Feed bytes with `compress(_:into:)`, make everything so far decodable with
/// `flush(into:)` (the frame stays open, so compression context is kept), and
/// close the frame with `finish(into:)`. After `finish` the next `compress`
/// starts a new frame; concatenated frames form a valid zstd stream.
///
/// Not `Sendable`: the underlying `ZSTD_CCtx` is mutable state, so an instance
/// must be owned and used by one thread (or one actor) at a time.
/// After a thrown error the frame in progress is unusable; discard the instance.
public final class ZstdCompressor {
    private let cctx: OpaquePointer
    /// Reused for every call so steady-state compression does not allocate
    /// beyond growing the caller's output array.
    private let scratch: UnsafeMutableRawBufferPointer

    /// Total uncompressed bytes accepted so far, across all frames.
    public private(set) var bytesIn: Int = 0
    /// Total compressed bytes appended to callers' outputs so far, across all frames.
    public private(set) var bytesOut: Int = 0

    /// Creates a compressor at the given zstd level (1 is fast; negative levels are faster still).
    ///
    /// Throws `ZstdError` with `.memoryAllocation` if the context cannot be
    /// created, or `.invalidParameter` if libzstd rejects the level.
    public init(level: Int32 = 1) throws {
        guard let cctx = ZSTD_createCCtx() else {
            throw ZstdError(code: .memoryAllocation, message: "ZSTD_createCCtx failed")
        }
        do {
            _ = try check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level))
        } catch {
            ZSTD_freeCCtx(cctx)
            throw error
        }
        self.cctx = cctx
        self.scratch = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeCCtx(cctx)
        scratch.deallocate()
    }

    /// Compresses `input`, appending whatever compressed bytes are ready to `output`.
    ///
    /// libzstd may buffer input internally, so `output` can grow by nothing;
    /// call `flush(into:)` or `finish(into:)` to force the data out.
    public func compress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        guard !input.isEmpty else { return }
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        repeat {
            _ = try step(&inBuffer, ZSTD_e_continue, into: &output)
        } while inBuffer.pos < inBuffer.size
        bytesIn += input.count
    }

    /// Compresses any collection of bytes; see `compress(_:into:)`.
    public func compress(_ input: some Collection<UInt8>, into output: inout [UInt8]) throws {
        let done: Void? = try input.withContiguousStorageIfAvailable { buffer in
            try compress(UnsafeRawBufferPointer(buffer), into: &output)
        }
        if done == nil {
            try Array(input).withUnsafeBytes { try compress($0, into: &output) }
        }
    }

    /// Emits everything compressed so far, leaving the frame open.
    ///
    /// Promise: the concatenation of all bytes this compressor has produced up
    /// to now decodes (with a streaming decompressor) to all input given so far,
    /// even though the frame has not ended.
    public func flush(into output: inout [UInt8]) throws {
        try drain(ZSTD_e_flush, into: &output)
    }

    /// Emits the rest of the current frame and closes it.
    ///
    /// Promise: the bytes produced since the previous `finish` form one complete
    /// zstd frame. Calling it with no input since the last `finish` emits an
    /// empty (but valid) frame. The compressor is then ready for a new frame.
    public func finish(into output: inout [UInt8]) throws {
        try drain(ZSTD_e_end, into: &output)
    }

    /// Repeats a flushing directive until libzstd reports nothing left to emit.
    private func drain(_ directive: ZSTD_EndDirective, into output: inout [UInt8]) throws {
        var inBuffer = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try step(&inBuffer, directive, into: &output) != 0 {}
    }

    /// One `ZSTD_compressStream2` call; returns libzstd's "bytes left to flush" hint.
    private func step(
        _ inBuffer: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective,
        into output: inout [UInt8]
    ) throws -> Int {
        var outBuffer = ZSTD_outBuffer(dst: scratch.baseAddress, size: scratch.count, pos: 0)
        let remaining = try check(ZSTD_compressStream2(cctx, &outBuffer, &inBuffer, directive))
        if outBuffer.pos > 0 {
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<outBuffer.pos]))
            bytesOut += outBuffer.pos
        }
        return remaining
    }
}
