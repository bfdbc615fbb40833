/**
 * The LXC template every container is created from, downloaded by Proxmox
 * onto every configured node (so scaling onto a node never waits), or once
 * when the template datastore is shared by every node.
 *
 * Its file name says the stack and the template's checksum:
 * - per stack: stacks sharing a host would otherwise take the same file from
 *   each other, and destroying one would delete the template the other
 *   creates containers from;
 * - per checksum: a new checksum means a new file, created before the old
 *   one is deleted. Under one name, the replacement would write the new file
 *   over the old (overwriteUnmanaged) and then delete the old resource's file,
 *   which is that same file, leaving none;
 * - once per storage: on a shared storage each node's File would be the same
 *   file, and each would delete it for all of them.
 */
import * as proxmoxve from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";

export interface LxcTemplatesArgs {
  /** Proxmox nodes to download the template onto: one file each. */
  nodes: string[];
  /** Datastore that holds templates (content type vztmpl). */
  datastore: string;
  /** Where Proxmox downloads the template from. */
  url: string;
  /** SHA-512 of the template; Proxmox checks it after the download. */
  checksum: string;
  /** The datastore is one storage seen by every node (NFS, CephFS...): one file, on the first node. */
  shared: boolean;
}

/** The template's file name on the datastore: per stack and checksum, then the URL's file name. */
export function templateFileName(stack: string, url: string, checksum: string): string {
  return `cco-${stack.toLowerCase()}-${checksum.slice(0, 16)}-${url.split("/").pop()!}`;
}

export class LxcTemplates extends pulumi.ComponentResource {
  /** The downloaded files, by the node each was downloaded on. */
  readonly files: Record<string, proxmoxve.download.File>;
  private readonly shared: boolean;

  constructor(name: string, args: LxcTemplatesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cco:proxmox:LxcTemplates", name, {}, opts);
    const fileName = templateFileName(pulumi.getStack(), args.url, args.checksum);
    this.shared = args.shared;
    this.files = Object.fromEntries(
      (args.shared ? args.nodes.slice(0, 1) : args.nodes).map((node) => [
        node,
        new proxmoxve.download.File(
          `lxc-template-${node}`,
          {
            nodeName: node,
            datastoreId: args.datastore,
            contentType: "vztmpl",
            url: args.url,
            fileName,
            checksum: args.checksum,
            checksumAlgorithm: "sha512",
            overwrite: false,
            overwriteUnmanaged: true,
          },
          // Declared at the stack's root before this component existed: the
          // alias keeps such a stack's file instead of replacing it.
          { parent: this, aliases: [{ parent: pulumi.rootStackResource }] },
        ),
      ]),
    );
    this.registerOutputs({ nodes: args.nodes });
  }

  /** The template's file id on a node (what a container's operatingSystem.templateFileId takes). */
  fileId(node: string): pulumi.Output<string> {
    // On shared storage the one file's id (storage:vztmpl/name) is the same on every node.
    const file = this.shared ? Object.values(this.files)[0] : this.files[node];
    if (!file) throw new Error(`no LXC template on node ${node} (nodes: ${Object.keys(this.files).join(", ")})`);
    return file.id;
  }
}
