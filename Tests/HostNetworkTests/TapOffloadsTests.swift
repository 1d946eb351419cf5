import CHostNetwork
import Testing

@testable import HostNetwork

@Suite struct TapOffloadsTests {
    @Test func segmentationOffloadsNeedChecksumOffload() {
        #expect(TapOffloads().tunFlags == 0)
        #expect(TapOffloads(tso4: true, tso6: true).tunFlags == 0, "TSO without checksum offload is refused")
        #expect(TapOffloads(checksum: true).tunFlags == CHOSTNETWORK_TUN_F_CSUM)
        #expect(
            TapOffloads(checksum: true, tso4: true, tso6: true, tsoECN: true).tunFlags
                == CHOSTNETWORK_TUN_F_CSUM | CHOSTNETWORK_TUN_F_TSO4 | CHOSTNETWORK_TUN_F_TSO6
                | CHOSTNETWORK_TUN_F_TSO_ECN)
        #expect(TapOffloads(checksum: true, tsoECN: true).tunFlags == CHOSTNETWORK_TUN_F_CSUM, "ECN only with TSO")
    }
}
