# mero-tee node image for GCP TDX confidential VMs (docs/image.md).
# Versions come from image/versions.json (single source); pass them with
#   packer build -var "profile=locked-read-only" \
#     -var "merod_version=$(jq -r .merodVersion image/versions.json)" \
#     -var "image_version=$(jq -r .imageVersion image/versions.json)" \
#     -var "project_id=..." -var "merotee_bin_dir=/path/to/build" image/packer/node.pkr.hcl
# The playbook re-reads versions.json and refuses to build when merod_version differs.
# Written for Packer >= 1.7 with the googlecompute plugin (and >= 1.6 HCL2 core syntax).

variable "project_id" {
  type = string
}

variable "zone" {
  type    = string
  default = "europe-west4-a"
}

variable "profile" {
  type    = string
  default = "locked-read-only"
  validation {
    condition     = contains(["debug", "debug-read-only", "locked-read-only"], var.profile)
    error_message = "The profile must be debug, debug-read-only or locked-read-only."
  }
}

variable "merod_version" {
  type = string
}

variable "image_version" {
  type = string
}

variable "merotee_bin_dir" {
  type        = string
  description = "Directory holding the built mero-tee and mero-fleet-sidecar binaries."
}

variable "machine_type" {
  type    = string
  default = "c3-standard-4"
}

variable "source_image_family" {
  type    = string
  default = "ubuntu-2510-amd64"
}

locals {
  image_suffix = replace(var.image_version, ".", "-")
}

source "googlecompute" "node" {
  project_id          = var.project_id
  zone                = var.zone
  source_image_family = var.source_image_family
  source_image_project_id = ["ubuntu-os-cloud"]
  # The build VM only assembles the disk; it needs no TDX itself.  The image is
  # marked TDX_CAPABLE below and the nodes are created from it with
  # --confidential-compute-type TDX on a C3 machine type (docs/image.md).
  # TERMINATE on host maintenance is what confidential VMs require.
  machine_type              = var.machine_type
  enable_secure_boot        = true
  on_host_maintenance       = "TERMINATE"
  disk_size                 = 20
  disk_type                 = "pd-ssd"
  ssh_username              = "packer"
  tags                      = ["packer", "merotee"]
  disable_default_service_account = true
  image_name                = "merotee-node-${var.profile}-${local.image_suffix}"
  image_family              = "merotee-node-${var.profile}"
  image_guest_os_features   = ["TDX_CAPABLE", "GVNIC", "UEFI_COMPATIBLE", "VIRTIO_SCSI_MULTIQUEUE"]
  image_labels = {
    profile       = var.profile
    image_version = local.image_suffix
  }
  metadata = {
    enable-oslogin = "FALSE"
  }
}

build {
  sources = ["source.googlecompute.node"]

  provisioner "ansible" {
    playbook_file = "${path.root}/../ansible/playbook.yml"
    user          = "packer"
    use_proxy     = false
    # Pipelining: no module files under the build user's home, which the playbook's
    # last task (lockdown) removes together with the user, SSH and sudo.
    ansible_env_vars = ["ANSIBLE_PIPELINING=True"]
    extra_arguments = [
      "--extra-vars", "image_profile=${var.profile}",
      "--extra-vars", "merod_version=${var.merod_version}",
      "--extra-vars", "image_version=${var.image_version}",
      "--extra-vars", "merotee_bin_dir=${var.merotee_bin_dir}",
      "--extra-vars", "default_user=packer",
    ]
  }
}
