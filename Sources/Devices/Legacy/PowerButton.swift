import EventLoop
import Synchronization

/// The power-button event device: a status register whose bit 0 means "power button
/// pressed" (write 1 to clear), an identification register, and an edge interrupt through an
/// irqfd. The ACPI Generic Event Device describes this same register to Linux; the test
/// firmware polls it.
///
/// Ports (base 0x610): +0 status (32-bit, write-one-to-clear), +4 identification (reads
/// 0x42505653, "SVPB"; an absent device reads all ones).
/// SPI-public for cross-module inlining on the exit path (see `VCPUFD` in KVM).
@_spi(ExitPath) public final class PowerButton: Sendable {
    package static let defaultPort: UInt16 = 0x610
    package static let length: UInt64 = 8
    package static let identification: UInt32 = 0x4250_5653
    package static let pressedBit: UInt32 = 1
    /// The interrupt line (GSI) of the event.
    package static let defaultGSI: UInt32 = 23

    private let status = Atomic<UInt32>(0)
    private let interrupt: EventFD?

    package init(interrupt: EventFD?) {
        self.interrupt = interrupt
    }

    /// Presses the button: sets the status bit and raises the interrupt edge.
    package func press() {
        status.bitwiseOr(Self.pressedBit, ordering: .sequentiallyConsistent)
        interrupt?.signal()
    }

    /// Whether a press has not been acknowledged by the guest.
    package var isPressed: Bool { status.load(ordering: .sequentiallyConsistent) & Self.pressedBit != 0 }

    package func write(offset: UInt64, size: Int, value: UInt64) -> MachineRequest? {
        if offset == 0 {
            status.bitwiseAnd(~UInt32(truncatingIfNeeded: value), ordering: .sequentiallyConsistent)
        }
        return nil
    }

    package func read(offset: UInt64, size: Int) -> UInt64 {
        switch offset {
        case 0: return UInt64(status.load(ordering: .sequentiallyConsistent))
        case 4: return UInt64(Self.identification)
        default: return 0
        }
    }
}
