"""User agents and source IPs that look like the ones real trails carry.

IP pools deliberately avoid 185.220.100.0/22 and the other Tor exit ranges below, so only the
Tor scenario ever produces a Tor address.
"""

from __future__ import annotations

import random

# Public ranges by the kind of network a caller sits in.
_EC2 = ("3.80", "3.91", "18.206", "34.224", "44.192", "52.4", "54.86", "54.144")
_EC2_EU = ("3.248", "18.200", "34.240", "52.16", "54.72")
_OFFICE = ("198.51", "73.162", "81.2", "86.150", "92.40", "104.28", "151.101", "203.0")
_HOME = ("24.5", "67.180", "71.197", "76.102", "82.12", "90.208", "109.150", "124.40", "49.36")
_CI = ("20.42", "20.85", "40.84", "52.234", "140.82", "4.175")
_VPS = ("45.137", "91.92", "194.26", "5.188", "146.70", "193.142", "45.153")

# Tor exits (the 185.220.100.0/22 block is also in the project's config list).
TOR_EXITS = (
    "185.220.100.240",
    "185.220.100.252",
    "185.220.100.255",
    "185.220.101.4",
    "185.220.101.17",
    "185.220.101.33",
    "185.220.101.46",
    "185.220.101.134",
    "185.220.102.8",
    "185.220.103.7",
    "23.129.64.131",
    "171.25.193.78",
    "199.249.230.87",
    "109.70.100.21",
    "104.244.73.193",
    "45.151.167.12",
)


def ip_in(rng: random.Random, prefixes: tuple[str, ...]) -> str:
    return f"{rng.choice(prefixes)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"


def ec2_ip(rng: random.Random, region: str) -> str:
    return ip_in(rng, _EC2 if region.startswith("us-") else _EC2_EU)


def office_ip(rng: random.Random) -> str:
    return ip_in(rng, _OFFICE)


def home_ip(rng: random.Random) -> str:
    return ip_in(rng, _HOME)


def ci_ip(rng: random.Random) -> str:
    return ip_in(rng, _CI)


def vps_ip(rng: random.Random) -> str:
    return ip_in(rng, _VPS)


def private_ip(rng: random.Random) -> str:
    return f"10.{rng.randint(0, 63)}.{rng.randint(0, 255)}.{rng.randint(4, 254)}"


def java_ua(rng: random.Random) -> str:
    sdk, kern, jdk = rng.randint(400, 780), rng.randint(200, 230), rng.randint(8, 12)
    return (
        f"[aws-sdk-java/1.12.{sdk} Linux/5.10.{kern}-{rng.randint(180, 220)}.{rng.randint(700, 900)}"
        f".amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.{jdk}+7-LTS java/17.0.{jdk} "
        f"vendor/Amazon.com_Inc. cfg/retry-mode/standard]"
    )


def boto3_ua(rng: random.Random) -> str:
    v, py = rng.randint(20, 99), rng.randint(4, 9)
    kern = f"5.10.{rng.randint(200, 230)}-{rng.randint(180, 220)}.{rng.randint(700, 900)}"
    return (
        f"Boto3/1.34.{v} md/Botocore#1.34.{v} ua/2.0 os/linux#{kern}.amzn2.x86_64 md/arch#x86_64 "
        f"lang/python#3.11.{py} md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.{v}"
    )


def go_ua(rng: random.Random) -> str:
    return (
        f"[aws-sdk-go-v2/1.{rng.randint(24, 30)}.{rng.randint(0, 4)} os/linux lang/go#1.22."
        f"{rng.randint(0, 6)} md/GOOS#linux md/GOARCH#amd64 api/s3#1.{rng.randint(48, 58)}.0]"
    )


def terraform_ua(rng: random.Random) -> str:
    return (
        f"APN/1.0 HashiCorp/1.0 Terraform/1.9.{rng.randint(0, 8)} (+https://www.terraform.io) "
        f"terraform-provider-aws/5.{rng.randint(60, 80)}.0 (+https://registry.terraform.io/providers/"
        f"hashicorp/aws) aws-sdk-go-v2/1.32.{rng.randint(0, 6)} ua/2.1 os/linux lang/go#1.23.2 "
        "md/GOOS#linux md/GOARCH#amd64 api/s3#1.66.2"
    )


def cli_ua(rng: random.Random, command: str = "s3.ls") -> str:
    os_part = rng.choice(
        (
            f"os/macos#23.{rng.randint(0, 6)}.0 md/arch#arm64",
            f"os/linux#6.{rng.randint(2, 8)}.0-{rng.randint(10, 40)}-generic md/arch#x86_64",
            "os/windows#10 md/arch#amd64",
        )
    )
    v = rng.randint(13, 22)
    return (
        f"aws-cli/2.{v}.{rng.randint(0, 40)} md/awscrt#0.{rng.randint(16, 22)}.{rng.randint(0, 19)} "
        f"ua/2.0 {os_part} lang/python#3.11.{rng.randint(4, 9)} md/pyimpl#CPython "
        f"cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#{command}"
    )


def console_ua(rng: random.Random) -> str:
    return (
        f"[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.{rng.randint(600, 780)} "
        f"Linux/5.10.{rng.randint(210, 230)}-{rng.randint(200, 220)}.855.amzn2int.x86_64 "
        "OpenJDK_64-Bit_Server_VM/25.412-b09 java/1.8.0_412 vendor/Oracle_Corporation "
        "cfg/retry-mode/standard]"
    )


def browser_ua(rng: random.Random) -> str:
    return rng.choice(
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/1{rng.randint(18, 31)}.0.0.0 Safari/537.36",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
            f"Gecko) Version/17.{rng.randint(0, 6)} Safari/605.1.15",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            f"curl/8.{rng.randint(2, 9)}.0",
            "Wget/1.21.4",
        )
    )


KALI_UA = (
    "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-kali3-amd64 exe/x86_64.kali.2023 prompt/off "
    "command/s3.ls"
)
PARROT_UA = (
    "aws-cli/2.13.25 Python/3.11.5 Linux/6.5.0-13parrot1-amd64 exe/x86_64.parrot.6 prompt/off "
    "command/s3api.list-buckets"
)
PENTOO_UA = (
    "Boto3/1.34.11 md/Botocore#1.34.11 ua/2.0 os/linux#6.6.8-pentoo md/arch#x86_64 "
    "lang/python#3.11.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.11"
)
RCLONE_UA = "rclone/v1.66.0"
