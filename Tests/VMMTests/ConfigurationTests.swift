import Testing
import VMM

@Suite struct ConfigurationDecodingTests {
    private func decode(_ json: String) throws(MachineError) -> VirtualMachineConfiguration {
        try VirtualMachineConfiguration(json: Array(json.utf8), source: "test.json")
    }

    @Test func fullConfigurationDecodesWithSnakeCaseKeys() throws {
        let configuration = try decode(
            """
            {"name": "vm1", "vcpus": 2, "memory_mib": 256, "kernel": "/k", "initrd": "/i", "cmdline": "console=ttyS0",
             "console": "file=/tmp/c.log", "irqchip": true,
             "probes": [{"space": "port", "address": 16, "length": 2, "read_value": 7, "in_kernel": false}]}
            """)
        #expect(
            configuration
                == VirtualMachineConfiguration(
                    name: "vm1", vcpuCount: 2, memoryMiB: 256, kernelPath: "/k", initrdPath: "/i",
                    commandLine: "console=ttyS0", console: .file(path: "/tmp/c.log"),
                    probes: [ExitProbeConfiguration(space: .port, address: 16, length: 2, readValue: 7)]))
    }

    @Test func missingKeysTakeDefaults() throws {
        let configuration = try decode(#"{"kernel": "/k"}"#)
        #expect(configuration.vcpuCount == 1)
        #expect(configuration.memoryMiB == VirtualMachineConfiguration.defaultMemoryMiB)
        #expect(configuration.console == .stdio)
        #expect(configuration.inKernelIRQChip)
    }

    @Test func encodingRoundTrips() throws {
        let original = VirtualMachineConfiguration(
            vcpuCount: 3, memoryMiB: 64, rawCode: RawCodeBoot(code: [0xf4], mode: .real16, registers: .init(rcx: 5)),
            console: .none, inKernelIRQChip: false)
        #expect(try VirtualMachineConfiguration(json: original.jsonBytes()) == original)
    }

    @Test(arguments: [
        (#"{"kernel": "/k", "memory": 5}"#, "memory: unknown key 'memory'"),
        (#"{"raw_code": {"code": [1], "mode": "real16", "entry": 5}}"#, "raw_code.entry: unknown key"),
        (#"{"probes": [{"space": "port", "address": 1, "in_kernal": true}]}"#, "probes[0].in_kernal: unknown key"),
        (
            #"{"raw_code": {"code": [1], "mode": "real16", "registers": {"r8": 1}}}"#,
            "raw_code.registers.r8: unknown key"
        ),
    ])
    func unknownKeysAreRejectedWithTheirPath(json: String, expected: String) {
        #expect {
            try decode(json)
        } throws: { error in
            guard let error = error as? MachineError, error.code == .malformedConfigurationFile else { return false }
            return error.message.contains("'test.json'") && error.message.contains(expected)
        }
    }

    @Test(arguments: [
        (#"{"vcpus": "two"}"#, "vcpus: expected Int"),
        (#"{"memory_mib": 1.5}"#, "memory_mib: expected Int"),
        (#"{"raw_code": {"code": [1, 300], "mode": "real16"}}"#, "raw_code.code"),
        (#"{"console": "tty"}"#, "console"),
        (#"{"raw_code": {"code": [1], "mode": "protected32"}}"#, "raw_code.mode"),
        (#"{"raw_code": {"mode": "real16"}}"#, "raw_code.code: required key is missing"),
        (#"{"vcpus": "#, "not valid JSON"),
        ("[1, 2]", "top level"),
    ])
    func wrongTypesAndSyntaxAreRejected(json: String, expected: String) {
        #expect {
            try decode(json)
        } throws: { error in
            guard let error = error as? MachineError, error.code == .malformedConfigurationFile else { return false }
            return error.message.contains(expected)
        }
    }
}

@Suite struct ConfigurationValidationTests {
    private let valid = VirtualMachineConfiguration(kernelPath: "/boot/vmlinuz")
    private let host = HostLimits(memoryBytes: 4 << 30, maximumVCPUCount: 16)

    @Test func aValidConfigurationPasses() throws {
        try valid.validate()
        try valid.validate(against: host)
    }

    @Test func zeroVCPUsIsRejected() {
        var configuration = valid
        configuration.vcpuCount = 0
        #expect(throws: MachineError.invalidValue(field: "vcpus", value: "0", expected: "1 to 254")) {
            try configuration.validate()
        }
    }

    @Test func zeroMemoryIsRejected() {
        var configuration = valid
        configuration.memoryMiB = 0
        #expect(throws: MachineError.self) { try configuration.validate() }
    }

    @Test func atMostOneBootSource() throws {
        var configuration = valid
        configuration.kernelPath = nil
        try configuration.validate()  // no source: the built-in firmware boots
        configuration.kernelPath = "/k"
        configuration.rawCode = RawCodeBoot(code: [0xf4], mode: .real16)
        #expect(throws: MachineError.self) { try configuration.validate() }
        configuration.rawCode = nil
        configuration.firmwarePath = "/fw.elf"
        #expect(
            throws: MachineError.invalidValue(
                field: "firmware", value: "(set together with kernel)",
                expected: "only one boot source: kernel, firmware or raw_code")
        ) { try configuration.validate() }
    }

    @Test func hostLimitsBindMemoryAndVCPUs() {
        var configuration = valid
        configuration.memoryMiB = 8192
        #expect(
            throws: MachineError.exceedsHost(field: "memory_mib", value: "8192 MiB", limit: "4096 MiB (MemTotal)")
        ) {
            try configuration.validate(against: host)
        }
        configuration.memoryMiB = 128
        configuration.vcpuCount = 17
        #expect(throws: MachineError.exceedsHost(field: "vcpus", value: "17", limit: "16 (KVM_CAP_MAX_VCPUS)")) {
            try configuration.validate(against: host)
        }
        configuration.vcpuCount = 300
        #expect(throws: MachineError.self) {
            try configuration.validate(against: HostLimits(memoryBytes: 4 << 30, maximumVCPUCount: 1024))
        }
    }

    @Test func rawCodeMustFitAndStayClearOfThePageTables() {
        var configuration = VirtualMachineConfiguration(memoryMiB: 1, inKernelIRQChip: false)
        configuration.rawCode = RawCodeBoot(code: [0xf4], loadAddress: 0x1000, mode: .long64User)
        #expect(throws: MachineError.self) { try configuration.validate() }
        configuration.rawCode = RawCodeBoot(code: [0xf4, 0xf4], loadAddress: 0xfffff, mode: .long64User)
        #expect(throws: MachineError.self) { try configuration.validate() }
        configuration.rawCode = RawCodeBoot(code: [UInt8](repeating: 0x90, count: 0x9000), mode: .real16)
        #expect(throws: MachineError.self, "real-mode code must end below 64 KiB") {
            try configuration.validate()
        }
        configuration.rawCode = RawCodeBoot(code: [], mode: .real16)
        #expect(throws: MachineError.self) { try configuration.validate() }
        configuration.rawCode = RawCodeBoot(code: [0xf4], mode: .real16)
        configuration.vcpuCount = 2
        #expect(throws: MachineError.self, "several vCPUs need the irqchip") { try configuration.validate() }
    }

    @Test func probeRangesAreChecked() {
        var configuration = valid
        configuration.probes = [ExitProbeConfiguration(space: .port, address: 0xffff, length: 2)]
        #expect(throws: MachineError.self) { try configuration.validate() }
        configuration.probes = [ExitProbeConfiguration(space: .mmio, address: 0x1000, length: 3, inKernel: true)]
        #expect(throws: MachineError.self) { try configuration.validate() }
        configuration.probes = [ExitProbeConfiguration(space: .mmio, address: 0x1000, length: 0)]
        #expect(throws: MachineError.self) { try configuration.validate() }
    }

    @Test func consoleArgumentForms() throws {
        #expect(try ConsoleConfiguration(argument: "stdio") == .stdio)
        #expect(try ConsoleConfiguration(argument: "none") == .none)
        #expect(try ConsoleConfiguration(argument: "file=/x") == .file(path: "/x"))
        #expect(try ConsoleConfiguration(argument: "file=/x,y,limit_mib=5") == .file(path: "/x,y", limitMiB: 5))
        #expect(try ConsoleConfiguration(argument: "file=/x,limit_mib=5").fileLimitBytes == 5 << 20)
        #expect(try ConsoleConfiguration(argument: "file=/x").fileLimitBytes == 1 << 30)
        #expect(try ConsoleConfiguration(argument: "file=/x,limit_mib=5").description == "file=/x,limit_mib=5")
        #expect(throws: MachineError.self) { try ConsoleConfiguration(argument: "file=") }
        #expect(throws: MachineError.self) { try ConsoleConfiguration(argument: "file=/x,limit_mib=0") }
        #expect(throws: MachineError.self) { try ConsoleConfiguration(argument: "file=/x,limit_mib=-1") }
        #expect(throws: MachineError.self) { try ConsoleConfiguration(argument: "serial") }
    }
}

@Suite struct ExitStatusTests {
    @Test func vmmOutcomesAndGuestStatusesNeverCollide() {
        let outcomes: [MachineExit] = [
            .poweredOff, .reset, .halted(vcpu: 0), .tripleFault(vcpu: 0, registers: ""),
            .vcpuFailure(vcpu: 0, reason: "", registers: ""), .stopped, .vmmError(""),
        ]
        let vmmStatuses =
            outcomes.map(\.exitStatus) + [
                ExitStatus.hostUnsupported, ExitStatus.invalidArgument, ExitStatus.unreadableFile,
                ExitStatus.unsupportedBootImage, ExitStatus.exceedsHost, ExitStatus.seccompViolation,
            ]
        #expect(Set(vmmStatuses).count == vmmStatuses.count, "every VMM outcome has its own status")
        let guestStatuses = (0..<UInt32(300)).map { MachineExit.guestStatus($0).exitStatus }
        #expect(guestStatuses.allSatisfy { (64...127).contains($0) })
        #expect(Set(guestStatuses).isDisjoint(with: vmmStatuses))
        #expect(MachineExit.guestStatus(0).exitStatus == 64)
        #expect(MachineExit.guestStatus(5).exitStatus == 69)
        #expect(MachineExit.guestStatus(63).exitStatus == 127)
        #expect(MachineExit.guestStatus(0xffff_ffff).exitStatus == 127)
        #expect(vmmStatuses.allSatisfy { $0 < 64 }, "never in the guest range nor the shell's 128+signal range")
        #expect(ExitStatus.seccompViolation == ProcessSandbox.violationExitStatus)
    }

    @Test func configurationErrorsMapToTheirStatuses() {
        #expect(MachineError.invalidValue(field: "", value: "", expected: "").exitStatus == 10)
        #expect(MachineError.malformedConfigurationFile(path: "", reason: "").exitStatus == 10)
        #expect(MachineError.fileUnreadable(field: "", path: "", reason: "").exitStatus == 11)
        #expect(MachineError.unsupportedBootImage(field: "", path: "", reason: "").exitStatus == 12)
        #expect(MachineError.exceedsHost(field: "", value: "", limit: "").exitStatus == 13)
        #expect(MachineError.hostUnsupported("").exitStatus == 2)
    }
}

@Suite struct NetworkInterfaceConfigurationTests {
    @Test func argumentFormAndValidation() throws {
        let interface = try NetworkInterfaceConfiguration(argument: "tap=tap0,mac=02:aa:bb:cc:dd:ee,mtu=9000")
        #expect(interface == NetworkInterfaceConfiguration(tap: "tap0", mac: "02:aa:bb:cc:dd:ee", mtu: 9000))
        for bad in ["tap=tap0,mac=02:aa", "tap=tap0,mac=zz:00:00:00:00:00", "tap=tap0,mtu=67", "tap=x/y", "mtu=1500"] {
            #expect(throws: MachineError.self, "\(bad)") { try NetworkInterfaceConfiguration(argument: bad) }
        }
    }

    /// NICs from JSON (or built in code) are validated like those from `--net`: a bad MTU, MAC
    /// or tap name is a configuration error naming the field, never a trap or a silent change.
    @Test(arguments: [
        (#"{"tap": "tap0", "mtu": -1}"#, "network_interfaces[0] mtu"),
        (#"{"tap": "tap0", "mtu": 3000000000}"#, "network_interfaces[0] mtu"),
        (#"{"tap": "tap0", "mtu": 65536}"#, "network_interfaces[0] mtu"),
        (#"{"tap": "tap0", "mac": "02:00:00:00:00"}"#, "network_interfaces[0] mac"),
        (#"{"tap": "tap0", "mac": "01:00:00:00:00:01"}"#, "network_interfaces[0] mac"),
        (#"{"tap": "a-tap-name-longer-than-15"}"#, "network_interfaces[0] tap"),
        (#"{"tap": ""}"#, "network_interfaces[0] tap"),
    ])
    func jsonInterfacesAreValidated(interface: String, field: String) throws {
        let configuration = try VirtualMachineConfiguration(
            json: Array(#"{"network_interfaces": [\#(interface)]}"#.utf8))
        #expect {
            try configuration.validate()
        } throws: { error in
            guard let error = error as? MachineError, error.code == .invalidValue else { return false }
            return error.field == field
        }
    }

    /// Every virtio device needs its own interrupt line: 18 fit, a 19th is refused (it would
    /// take the power button's GSI 23, and later ones GSIs the IOAPIC does not have).
    @Test func atMostEighteenVirtioDevices() throws {
        var configuration = VirtualMachineConfiguration(
            disks: (0..<10).map { DiskConfiguration(path: "/d\($0).img") },
            networkInterfaces: (0..<7).map { NetworkInterfaceConfiguration(tap: "tap\($0)") })
        configuration.entropyDevice = true
        try configuration.validate()
        configuration.networkInterfaces.append(NetworkInterfaceConfiguration(tap: "tap7"))
        #expect {
            try configuration.validate()
        } throws: { error in
            guard let error = error as? MachineError, error.code == .invalidValue else { return false }
            return error.message.contains("at most 18 virtio devices")
        }
    }

    @Test func jsonKeysAreStrict() throws {
        let configuration = try VirtualMachineConfiguration(
            json: Array(#"{"network_interfaces": [{"tap": "tap1", "mtu": 1400}]}"#.utf8))
        #expect(configuration.networkInterfaces == [NetworkInterfaceConfiguration(tap: "tap1", mtu: 1400)])
        #expect(throws: MachineError.self) {
            try VirtualMachineConfiguration(
                json: Array(#"{"network_interfaces": [{"tap": "t", "ip": "1.2.3.4"}]}"#.utf8))
        }
    }
}

@Suite struct DiskConfigurationTests {
    @Test func argumentFormAndJSON() throws {
        #expect(
            try DiskConfiguration(argument: "path=/d.img,readonly=on,serial=abc,cache=none")
                == DiskConfiguration(path: "/d.img", readOnly: true, serial: "abc", cache: .none))
        let configuration = try VirtualMachineConfiguration(
            json: Array(
                #"{"disks": [{"path": "/a.img", "read_only": true}, {"path": "/b.img", "cache": "none"}]}"#.utf8))
        #expect(configuration.disks.map(\.readOnly) == [true, false])
        #expect(configuration.disks.map(\.cache) == [.writeback, .none])
        var tooLong = VirtualMachineConfiguration(disks: [
            DiskConfiguration(path: "/a", serial: String(repeating: "s", count: 21))
        ])
        #expect(throws: MachineError.self) { try tooLong.validate() }
        tooLong.disks = []
        try tooLong.validate()
    }
}
