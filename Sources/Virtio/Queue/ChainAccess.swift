import GuestMemory

/// Reads a chain's device-readable buffers as one byte stream.
package struct ChainReader {
    private let memory: GuestMemory
    private let buffers: [DescriptorBuffer]
    private var bufferIndex = 0
    private var offsetInBuffer: UInt32 = 0
    /// Bytes not read yet.
    package private(set) var remaining: UInt64

    package init(_ chain: DescriptorChain, memory: GuestMemory) {
        self.memory = memory
        buffers = chain.readable
        remaining = chain.readableLength
    }

    /// Reads exactly `count` bytes, or throws `.shortChain` when fewer remain.
    package mutating func read(count: Int) throws(ChainAccessError) -> [UInt8] {
        guard count >= 0, UInt64(count) <= remaining else {
            throw .shortChain(needed: UInt64(max(0, count)), available: remaining)
        }
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            let buffer = buffers[bufferIndex]
            let chunk = min(Int(buffer.length - offsetInBuffer), count - result.count)
            do {
                result += try memory.readBytes(
                    at: GuestAddress(buffer.address.rawValue + UInt64(offsetInBuffer)), count: chunk)
            } catch {
                throw .memory(error)
            }
            advance(by: chunk)
        }
        return result
    }

    /// Reads a little-endian integer.
    package mutating func read<Value: FixedWidthInteger>(_: Value.Type) throws(ChainAccessError) -> Value {
        let size = MemoryLayout<Value>.size
        // Fast path, no allocation: the integer lies inside the current buffer.
        if bufferIndex < buffers.count, UInt64(size) <= remaining,
            Int(buffers[bufferIndex].length - offsetInBuffer) >= size
        {
            let address = GuestAddress(buffers[bufferIndex].address.rawValue + UInt64(offsetInBuffer))
            do {
                let value = try memory.load(Value.self, at: address)
                advance(by: size)
                return value
            } catch {
                throw .memory(error)
            }
        }
        let bytes = try read(count: size)
        return bytes.enumerated().reduce(Value(0)) { $0 | Value($1.element) << ($1.offset * 8) }
    }

    private mutating func advance(by count: Int) {
        offsetInBuffer += UInt32(count)
        remaining -= UInt64(count)
        while bufferIndex < buffers.count, offsetInBuffer == buffers[bufferIndex].length {
            bufferIndex += 1
            offsetInBuffer = 0
        }
    }
}

/// Writes a chain's device-writable buffers as one byte stream.
package struct ChainWriter {
    private let memory: GuestMemory
    private let buffers: [DescriptorBuffer]
    private var bufferIndex = 0
    private var offsetInBuffer: UInt32 = 0
    /// Bytes written so far (the used-ring length).
    package private(set) var written: UInt32 = 0
    /// Room left.
    package private(set) var remaining: UInt64

    package init(_ chain: DescriptorChain, memory: GuestMemory) {
        self.memory = memory
        buffers = chain.writable
        remaining = chain.writableLength
    }

    /// Writes all of `bytes`, or throws `.shortChain` (writing nothing) when they do not fit.
    package mutating func write(_ bytes: [UInt8]) throws(ChainAccessError) {
        guard UInt64(bytes.count) <= remaining else {
            throw .shortChain(needed: UInt64(bytes.count), available: remaining)
        }
        var done = 0
        while done < bytes.count {
            let buffer = buffers[bufferIndex]
            let chunk = min(Int(buffer.length - offsetInBuffer), bytes.count - done)
            do {
                try memory.write(
                    bytes[done..<done + chunk], at: GuestAddress(buffer.address.rawValue + UInt64(offsetInBuffer)))
            } catch {
                throw .memory(error)
            }
            done += chunk
            offsetInBuffer += UInt32(chunk)
            written += UInt32(chunk)
            remaining -= UInt64(chunk)
            while bufferIndex < buffers.count, offsetInBuffer == buffers[bufferIndex].length {
                bufferIndex += 1
                offsetInBuffer = 0
            }
        }
    }

    /// Moves past `count` bytes without writing them (e.g. to patch a field of a header that
    /// was written by someone else), or throws `.shortChain` when fewer remain.
    package mutating func skip(_ count: UInt64) throws(ChainAccessError) {
        guard count <= remaining else { throw .shortChain(needed: count, available: remaining) }
        var left = count
        while left > 0 {
            let chunk = min(UInt64(buffers[bufferIndex].length - offsetInBuffer), left)
            offsetInBuffer += UInt32(chunk)
            remaining -= chunk
            left -= chunk
            while bufferIndex < buffers.count, offsetInBuffer == buffers[bufferIndex].length {
                bufferIndex += 1
                offsetInBuffer = 0
            }
        }
    }

    /// Writes a little-endian integer.
    package mutating func write<Value: FixedWidthInteger>(_ value: Value) throws(ChainAccessError) {
        try write((0..<MemoryLayout<Value>.size).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) })
    }
}

/// A chain was too short for what the device needed, or its memory went away.
package enum ChainAccessError: Error, Equatable, Sendable {
    case shortChain(needed: UInt64, available: UInt64)
    case memory(GuestMemoryError)
}
