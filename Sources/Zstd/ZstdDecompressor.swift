import CZstd

/// A streaming zstd decompressor for a sequence of concatenated frames.
///
/// Input may be split at any byte; each call appends whatever output can be
/// produced. Not `Sendable`: the underlying `ZSTD_DCtx` is mutable state, so an
/// instance must be owned and used by one thread (or one actor) at a time.
/// After a thrown error, call `reset()` before feeding a new stream.
public final class ZstdDecompressor {
    private let dctx: OpaquePointer
    /// Reused for every call so steady-state decoding does not allocate
    /// beyond growing the caller's output array.
    private let scratch: UnsafeMutableRawBufferPointer

    /// True when no partial frame is pending: nothing has been fed yet, or the
    /// last `ZSTD_decompressStream` call completed a frame (returned 0).
    ///
    /// At end of input, `false` means the data stopped mid-frame.
    public private(set) var isAtFrameBoundary = true

    /// Creates a decompressor that refuses frames needing a window larger than `2^windowLogMax` bytes.
    ///
    /// The limit bounds memory use on untrusted input; such frames fail with
    /// `.windowTooLarge`. Throws `.invalidParameter` if libzstd rejects the value.
    public init(windowLogMax: Int32 = 23) throws {
        guard let dctx = ZSTD_createDCtx() else {
            throw ZstdError(code: .memoryAllocation, message: "ZSTD_createDCtx failed")
        }
        do {
            _ = try check(ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, windowLogMax))
        } catch {
            ZSTD_freeDCtx(dctx)
            throw error
        }
        self.dctx = dctx
        self.scratch = .allocate(byteCount: ZSTD_DStreamOutSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeDCtx(dctx)
        scratch.deallocate()
    }

    /// Decodes `input`, appending all output it makes available to `output`.
    ///
    /// Promise: feeding a stream in any split yields the same total output as
    /// feeding it whole. Invalid data throws `ZstdError`; it never crashes.
    public func decompress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        // An empty call would make libzstd report a header-size hint and
        // wrongly clear `isAtFrameBoundary`.
        guard !input.isEmpty else { return }
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while true {
            var outBuffer = ZSTD_outBuffer(dst: scratch.baseAddress, size: scratch.count, pos: 0)
            let hint = try check(ZSTD_decompressStream(dctx, &outBuffer, &inBuffer))
            if outBuffer.pos > 0 {
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<outBuffer.pos]))
            }
            isAtFrameBoundary = hint == 0
            let inputLeft = inBuffer.pos < inBuffer.size
            // A full scratch buffer may mean libzstd holds more decoded bytes;
            // a finished frame (hint 0) never does.
            let maybeMoreOutput = hint != 0 && outBuffer.pos == outBuffer.size
            if !inputLeft && !maybeMoreOutput { break }
        }
    }

    /// Decodes any collection of bytes; see `decompress(_:into:)`.
    public func decompress(_ input: some Collection<UInt8>, into output: inout [UInt8]) throws {
        let done: Void? = try input.withContiguousStorageIfAvailable { buffer in
            try decompress(UnsafeRawBufferPointer(buffer), into: &output)
        }
        if done == nil {
            try Array(input).withUnsafeBytes { try decompress($0, into: &output) }
        }
    }

    /// Drops any partial frame so the next input is read as the start of a new stream.
    ///
    /// Keeps `windowLogMax`. Required after a thrown error.
    public func reset() {
        ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)
        isAtFrameBoundary = true
    }
}

/// Namespace for one-shot zstd helpers.
public enum Zstd {
    /// Decodes a complete concatenation of zero or more zstd frames.
    ///
    /// Throws `ZstdError` with `.truncatedInput` if `bytes` ends mid-frame,
    /// `.windowTooLarge` if a frame needs more than `2^windowLogMax` bytes of
    /// window, and `.corruptData` for invalid input.
    public static func decompressAll(_ bytes: [UInt8], windowLogMax: Int32 = 23) throws -> [UInt8] {
        let decompressor = try ZstdDecompressor(windowLogMax: windowLogMax)
        var output: [UInt8] = []
        try decompressor.decompress(bytes, into: &output)
        guard decompressor.isAtFrameBoundary else { throw ZstdError.truncatedInput }
        return output
    }
}
