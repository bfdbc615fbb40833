/**
 * The LXC template every container is created from, downloaded by Proxmox
 * onto every configured node (so scaling onto a node never waits). Its file
 * is named per stack: stacks sharing a host would otherwise take the same
 * file from each other, and destroying one would delete the template the
 * other creates containers from.
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
}

/** The template's file name on the datastore: per stack, then the URL's file name. */
export function templateFileName(stack: string, url: string): string {
  return `cco-${stack.toLowerCase()}-${url.split("/").pop()!}`;
}

export class LxcTemplates extends pulumi.ComponentResource {
  /** The downloaded file on each node, by node name. */
  readonly files: Record<string, proxmoxve.download.File>;

  constructor(name: string, args: LxcTemplatesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cco:proxmox:LxcTemplates", name, {}, opts);
    const fileName = templateFileName(pulumi.getStack(), args.url);
    this.files = Object.fromEntries(
      args.nodes.map((node) => [
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
    const file = this.files[node];
    if (!file) throw new Error(`no LXC template on node ${node} (nodes: ${Object.keys(this.files).join(", ")})`);
    return file.id;
  }
}
