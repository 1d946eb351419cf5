import CKVM
import Testing

/// The C module must export the request numbers of <linux/kvm.h> unchanged.
@Suite struct CKVMConstantsTests {
    @Test func ioctlRequestNumbersMatchTheKernelABI() {
        // _IO(KVMIO=0xAE, nr) for the argument-less requests.
        #expect(CKVM_GET_API_VERSION == 0xAE00)
        #expect(CKVM_CREATE_VM == 0xAE01)
        #expect(CKVM_CHECK_EXTENSION == 0xAE03)
        #expect(CKVM_GET_VCPU_MMAP_SIZE == 0xAE04)
        #expect(CKVM_CREATE_VCPU == 0xAE41)
        #expect(CKVM_RUN == 0xAE80)
        // _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region) (32 bytes).
        #expect(CKVM_SET_USER_MEMORY_REGION == 0x4020_AE46)
    }

    @Test func exitReasonsMatchTheKernelABI() {
        #expect(CKVM_EXIT_IO == 2)
        #expect(CKVM_EXIT_HLT == 5)
        #expect(CKVM_EXIT_MMIO == 6)
        #expect(CKVM_EXIT_SHUTDOWN == 8)
        #expect(CKVM_EXIT_FAIL_ENTRY == 9)
        #expect(CKVM_EXIT_INTERNAL_ERROR == 17)
        #expect(CKVM_EXIT_SYSTEM_EVENT == 24)
    }
}
