/**
 * A channel's setting descriptions (shared/channels) as n8n parameters or credential fields: one mapping
 * for the trigger's per-channel parameters and the Reply node's credentials.
 */
import type { IDisplayOptions, INodeProperties } from 'n8n-workflow';
import type { SettingField } from '../../shared';

export function n8nProperty(field: SettingField, displayOptions?: IDisplayOptions): INodeProperties {
	const common = {
		displayName: field.displayName,
		name: field.name,
		description: field.description,
		...(field.required ? { required: true } : {}),
		...(field.placeholder ? { placeholder: field.placeholder } : {}),
		...(displayOptions ? { displayOptions } : {}),
	};
	if (field.type === 'boolean') return { ...common, type: 'boolean', default: field.default ?? false };
	if (field.type === 'options') return { ...common, type: 'options', options: (field.options ?? []).map((o) => ({ ...o })), default: field.default ?? '' };
	return { ...common, type: 'string', default: field.default ?? '', ...(field.secret ? { typeOptions: { password: true } } : {}) };
}

export const n8nProperties = (fields: readonly SettingField[] | undefined): INodeProperties[] => (fields ?? []).map((field) => n8nProperty(field));
