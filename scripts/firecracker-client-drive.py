"""Drives `swiftvmm serve` with pyrecracker, a Firecracker API client from PyPI.

Usage: PYTHON scripts/firecracker-client-drive.py API_SOCKET KERNEL BOOT_ARGS
(PYTHON: the venv scripts/firecracker-client.sh prints). Configures the machine and the boot
source, starts it, pauses and resumes it and presses Ctrl+Alt+Del, all through the client's
own calls; every non-2xx answer raises. Prints one line per step.
"""
import sys
import time

from pyrecracker.client import FirecrackerClient
from pyrecracker.client_types import (
    VM,
    ActionType,
    BootSource,
    InstanceActionInfo,
    MachineConfiguration,
    VMState,
)

socket_path, kernel, boot_args = sys.argv[1:4]
client = FirecrackerClient(socket_path)
client.put_machine_config(MachineConfiguration(vcpu_count=1, mem_size_mib=64))
print("client: machine configured", flush=True)
client.put_boot_source(BootSource(kernel_image_path=kernel, boot_args=boot_args))
print("client: boot source set", flush=True)
client.put_actions(InstanceActionInfo(action_type=ActionType.INSTANCE_START))
print("client: started", flush=True)
time.sleep(0.5)
client.patch_vm(VM(state=VMState.PAUSED))
print("client: paused", flush=True)
time.sleep(1.0)
client.patch_vm(VM(state=VMState.RESUMED))
print("client: resumed", flush=True)
time.sleep(0.5)
client.put_actions(InstanceActionInfo(action_type=ActionType.SEND_CTRL_ALT_DEL))
print("client: ctrl-alt-del sent", flush=True)
