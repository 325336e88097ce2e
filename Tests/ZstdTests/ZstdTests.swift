import CZstd
import Testing
import Zstd

@Suite struct ZstdCompressionTests {
    @Test func trainerLogFlushedEvery64KiBDecodesExactlyAndCompressesMoreThan5x() throws {
        let log = trainerLog(approximateBytes: 2 * 1024 * 1024)
        let compressor = try ZstdCompressor()
        let (chunks, _) = try compressWithFlushes(log, compressor: compressor)
        let stored = chunks.flatMap { $0 }

        #expect(chunks.count >= 32)
        #expect(try Zstd.decompressAll(stored) == log)
        #expect(compressor.bytesIn == log.count)
        #expect(compressor.bytesOut == stored.count)
        let ratio = Double(log.count) / Double(stored.count)
        #expect(ratio > 5, "ratio \(ratio)")
    }

    @Test func chunksAppendedAsReceivedDecodeByteForByteIncludingAcrossFrames() throws {
        let first = trainerLog(approximateBytes: 300_000, seed: 1)
        let second = trainerLog(approximateBytes: 200_000, seed: 2)
        let compressor = try ZstdCompressor(level: 3)
        var stored: [UInt8] = []
        for chunk in try compressWithFlushes(first, flushEvery: 16 * 1024, compressor: compressor).chunks {
            stored.append(contentsOf: chunk)
        }
        let firstFrameEnd = stored.count
        // Same compressor, second frame after finish().
        for chunk in try compressWithFlushes(second, flushEvery: 16 * 1024, compressor: compressor).chunks {
            stored.append(contentsOf: chunk)
        }

        #expect(try Zstd.decompressAll(Array(stored[..<firstFrameEnd])) == first)
        #expect(try Zstd.decompressAll(Array(stored[firstFrameEnd...])) == second)
        #expect(try Zstd.decompressAll(stored) == first + second)
    }

    @Test func outputIsAcceptedByTheZstdCLI() throws {
        let first = trainerLog(approximateBytes: 400_000, seed: 3)
        let second = randomBytes(50_000, seed: 4) + [0, 0, 0xFF, 0xC0]
        let compressor = try ZstdCompressor()
        var stored: [UInt8] = []
        for chunk in try compressWithFlushes(first, flushEvery: 32 * 1024, compressor: compressor).chunks {
            stored += chunk
        }
        for chunk in try compressWithFlushes(second, compressor: compressor).chunks {
            stored += chunk
        }

        let (status, output) = try decodeWithCLI(stored)
        #expect(status == 0)
        #expect(output == first + second)
    }

    @Test func everythingBeforeEachFlushIsDecodableByAFreshDecompressor() throws {
        let log = trainerLog(approximateBytes: 600_000, seed: 5)
        let (chunks, inputEnds) = try compressWithFlushes(
            log, writeSize: 777, flushEvery: 20_000, finish: false)
        #expect(chunks.count >= 25)

        var stored: [UInt8] = []
        for (chunk, end) in zip(chunks, inputEnds) {
            stored += chunk
            let decompressor = try ZstdDecompressor()
            var decoded: [UInt8] = []
            try decompressor.decompress(stored, into: &decoded)
            #expect(decoded == Array(log[..<end]))
            // The frame is still open, so a reader must not treat this as complete.
            #expect(!decompressor.isAtFrameBoundary)
        }
    }

    @Test func finishWithoutInputEmitsAnEmptyValidFrame() throws {
        let compressor = try ZstdCompressor()
        var stored: [UInt8] = []
        try compressor.finish(into: &stored)
        #expect(!stored.isEmpty)
        #expect(try Zstd.decompressAll(stored) == [])
        #expect(try Zstd.decompressAll([]) == [])
    }

    @Test func binaryInputWithNULsAndInvalidUTF8RoundTripsExactly() throws {
        let invalidUTF8: [UInt8] = [0xC0, 0x80, 0xFF, 0xFE, 0xED, 0xA0, 0x80, 0xF4, 0x90, 0x80, 0x80, 0xE2, 0x82]
        let inputs: [[UInt8]] = [
            randomBytes(300_000, seed: 6),
            [UInt8](repeating: 0, count: 100_000),
            Array(repeating: invalidUTF8, count: 5_000).flatMap { $0 },
            [0],
            randomBytes(10, seed: 7) + [0, 0, 0] + invalidUTF8 + [UInt8]("\r\n".utf8),
        ]
        for input in inputs {
            let stored = try compressWithFlushes(input, writeSize: 4093, flushEvery: 50_000).chunks.flatMap { $0 }
            #expect(try Zstd.decompressAll(stored) == input)
        }
    }
}

@Suite struct ZstdDecompressionTests {
    private static func sampleFrames() throws -> (plain: [UInt8], stored: [UInt8]) {
        let plain = trainerLog(approximateBytes: 30_000, seed: 8) + randomBytes(2_000, seed: 9)
        let compressor = try ZstdCompressor()
        var stored: [UInt8] = []
        try compressor.compress(plain[..<10_000], into: &stored)
        try compressor.flush(into: &stored)
        try compressor.compress(plain[10_000...], into: &stored)
        try compressor.finish(into: &stored)
        try compressor.compress(plain[..<5_000], into: &stored)
        try compressor.finish(into: &stored)
        return (plain + plain[..<5_000], stored)
    }

    @Test func splittingInputAtEveryByteBoundaryGivesTheSameOutput() throws {
        let (plain, stored) = try Self.sampleFrames()
        for split in 0...stored.count {
            let decompressor = try ZstdDecompressor()
            var decoded: [UInt8] = []
            try decompressor.decompress(stored[..<split], into: &decoded)
            try decompressor.decompress(stored[split...], into: &decoded)
            #expect(decoded == plain, "split at \(split)")
            #expect(decompressor.isAtFrameBoundary)
        }
    }

    @Test func feedingOneByteAtATimeGivesTheSameOutput() throws {
        let (plain, stored) = try Self.sampleFrames()
        let decompressor = try ZstdDecompressor()
        var decoded: [UInt8] = []
        for byte in stored {
            try decompressor.decompress([byte], into: &decoded)
        }
        #expect(decoded == plain)
        #expect(decompressor.isAtFrameBoundary)
    }

    @Test func randomChunkSizesGiveTheSameOutput() throws {
        let plain = trainerLog(approximateBytes: 1_000_000, seed: 10)
        let stored = try compressWithFlushes(plain).chunks.flatMap { $0 }
        var rng = SplitMix64(seed: 11)
        for _ in 0..<20 {
            let decompressor = try ZstdDecompressor()
            var decoded: [UInt8] = []
            var offset = 0
            while offset < stored.count {
                let end = min(stored.count, offset + Int.random(in: 1...9_000, using: &rng))
                try decompressor.decompress(stored[offset..<end], into: &decoded)
                offset = end
            }
            #expect(decoded == plain)
        }
    }

    @Test func garbageInputThrowsCorruptDataInsteadOfCrashing() throws {
        // Starts with bytes that are not a zstd or skippable-frame magic number.
        let garbage: [UInt8] = [0x00, 0x01, 0x02, 0x03] + randomBytes(4_096, seed: 12)
        let error = #expect(throws: ZstdError.self) { try Zstd.decompressAll(garbage) }
        #expect(error?.code == .corruptData)
        #expect(error?.message.isEmpty == false)

        let decompressor = try ZstdDecompressor()
        var sink: [UInt8] = []
        #expect(throws: ZstdError.self) { try decompressor.decompress(garbage, into: &sink) }

        // After reset() the same instance decodes a good stream.
        decompressor.reset()
        let (plain, stored) = try Self.sampleFrames()
        var decoded: [UInt8] = []
        try decompressor.decompress(stored, into: &decoded)
        #expect(decoded == plain)
    }

    @Test func corruptedFrameBodyThrowsZstdError() throws {
        var (_, stored) = try Self.sampleFrames()
        // Overwrite the first block's header and body with 0xFF.
        for index in 6..<60 { stored[index] = 0xFF }
        #expect(throws: ZstdError.self) { try Zstd.decompressAll(stored) }
    }

    @Test func truncatedFrameThrowsTruncatedInput() throws {
        let (_, stored) = try Self.sampleFrames()
        for cut in [1, 3, stored.count / 2, stored.count - 1] {
            let error = #expect(throws: ZstdError.self) { try Zstd.decompressAll(Array(stored[..<cut])) }
            #expect(error?.code == .truncatedInput, "cut at \(cut)")
            #expect(error == ZstdError(code: .truncatedInput, message: error?.message ?? ""))
        }
    }

    @Test func frameNeedingLargerWindowThanLimitIsRejectedWithWindowTooLarge() throws {
        // A 2 MiB block repeated at a 2 MiB distance: only a window > 2^20 can use the match.
        let block = randomBytes(2 * 1024 * 1024, seed: 13)
        let plain = block + block
        let stored = try compressRaw(plain, windowLog: 27)
        #expect(stored.count < plain.count * 3 / 4, "long-distance match should be found")

        let error = #expect(throws: ZstdError.self) {
            try Zstd.decompressAll(stored, windowLogMax: 20)
        }
        #expect(error?.code == .windowTooLarge)
        #expect(error?.zstdErrorCode == Int(ZSTD_error_frameParameter_windowTooLarge.rawValue))

        // The same frame is fine when the limit allows its window.
        #expect(try Zstd.decompressAll(stored, windowLogMax: 27) == plain)
    }

    @Test func invalidWindowLogMaxIsRejectedAsInvalidParameter() {
        let error = #expect(throws: ZstdError.self) { try ZstdDecompressor(windowLogMax: 99) }
        #expect(error?.code == .invalidParameter)
    }

    /// Streams `input` through a raw CCtx so the frame header declares the
    /// full `windowLog` (a known content size would let zstd shrink it).
    private func compressRaw(_ input: [UInt8], windowLog: Int32) throws -> [UInt8] {
        let cctx = try #require(ZSTD_createCCtx())
        defer { ZSTD_freeCCtx(cctx) }
        #expect(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, windowLog)) == 0)
        var output: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        input.withUnsafeBytes { src in
            scratch.withUnsafeMutableBytes { dst in
                var inBuffer = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
                for directive in [ZSTD_e_continue, ZSTD_e_end] {
                    var remaining = 1
                    while inBuffer.pos < inBuffer.size || (directive == ZSTD_e_end && remaining != 0) {
                        var outBuffer = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                        remaining = ZSTD_compressStream2(cctx, &outBuffer, &inBuffer, directive)
                        precondition(ZSTD_isError(remaining) == 0)
                        output += dst[..<outBuffer.pos]
                    }
                }
            }
        }
        return output
    }
}
