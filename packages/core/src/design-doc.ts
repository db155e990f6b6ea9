/** The shape of a CouchDB design document as picas writes it: JavaScript views only. */
export interface DesignDoc {
  _id: string;
  _rev?: string;
  language: 'javascript';
  views: Record<string, { map: string; reduce?: string }>;
}
