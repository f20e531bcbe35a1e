import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory, createRouter } from 'vue-router'
import { ApiError } from '@/api/client'
import { useAuthStore } from '@/stores/auth'
import { useEventsStore } from '@/stores/events'
import { useNotificationsStore } from '@/stores/notifications'
import AccountView from './AccountView.vue'
import LoginView from './LoginView.vue'

/** The account page, with the stores' calls that reach the gateway replaced by spies;
 * `order` lists those calls as they are made. */
async function mountAccount() {
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: '/', component: { template: '<p>catalog</p>' } },
      { path: '/login', component: LoginView, props: { mode: 'login' } },
      { path: '/register', component: LoginView, props: { mode: 'register' } },
      { path: '/account', component: AccountView },
    ],
  })
  await router.push('/account')
  await router.isReady()
  const auth = useAuthStore()
  const events = useEventsStore()
  const feed = useNotificationsStore()
  const order: string[] = []
  const spies = {
    changePassword: vi.spyOn(auth, 'changePassword').mockImplementation(async () => {
      order.push('changePassword')
    }),
    logoutEverywhere: vi.spyOn(auth, 'logoutEverywhere').mockImplementation(async () => {
      order.push('logoutEverywhere')
    }),
    disconnect: vi.spyOn(events, 'disconnect').mockImplementation(() => order.push('disconnect')),
    connect: vi.spyOn(events, 'connect').mockImplementation(async () => {
      order.push('connect')
    }),
    reset: vi.spyOn(feed, 'reset'),
  }
  const wrapper = mount(AccountView, { global: { plugins: [router] }, attachTo: document.body })
  return { wrapper, router, spies, order }
}

/** The input labelled `text`, as the browser tests find it. */
function field(wrapper: ReturnType<typeof mount>, text: string) {
  const label = wrapper.findAll('label').find((l) => l.text().startsWith(text))
  if (!label) throw new Error(`no field labelled ${text}`)
  return label.get('input')
}

function button(wrapper: ReturnType<typeof mount>, name: string) {
  const found = wrapper.findAll('button').find((b) => b.text() === name)
  if (!found) throw new Error(`no button ${name}`)
  return found
}

const wrongPassword = new ApiError(401, {
  type: '/problems/invalid-credentials',
  status: 401,
  detail: 'The current password is wrong.',
})

describe('AccountView', () => {
  beforeEach(() => setActivePinia(createPinia()))
  afterEach(() => {
    vi.restoreAllMocks()
    document.body.innerHTML = ''
  })

  it("states a new password's rules, tied to its field", async () => {
    const { wrapper } = await mountAccount()
    const input = field(wrapper, 'New password')
    expect(input.attributes('minlength')).toBe('8')
    const rules = wrapper.get(`#${input.attributes('aria-describedby')}`)
    expect(rules.text()).toContain('At least 8 characters')
  })

  it('closes the event stream before the password change and opens it again after; says it is done', async () => {
    const { wrapper, spies, order } = await mountAccount()
    await field(wrapper, 'Current password').setValue('a long password')
    await field(wrapper, 'New password').setValue('another long password')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(spies.changePassword).toHaveBeenCalledWith('a long password', 'another long password')
    expect(order).toEqual(['disconnect', 'changePassword', 'connect'])
    expect(wrapper.get('[role=status]').text()).toContain('Password changed')
    expect((field(wrapper, 'Current password').element as HTMLInputElement).value).toBe('')
    expect((field(wrapper, 'New password').element as HTMLInputElement).value).toBe('')
  })

  it("shows a refused change's problem, and opens the stream again", async () => {
    const { wrapper, spies, order } = await mountAccount()
    spies.changePassword.mockRejectedValueOnce(wrongPassword)
    await field(wrapper, 'Current password').setValue('not my password')
    await field(wrapper, 'New password').setValue('another long password')
    await wrapper.get('form').trigger('submit')
    await flushPromises()
    expect(order).toEqual(['disconnect', 'connect'])
    expect(wrapper.get('[role=alert]').text()).toBe('The current password is wrong.')
    expect(wrapper.find('[role=status]').exists()).toBe(false)
  })

  it('asks before signing out everywhere; Cancel signs nothing out', async () => {
    const { wrapper, spies } = await mountAccount()
    await button(wrapper, 'Sign out everywhere').trigger('click')
    expect(spies.logoutEverywhere).not.toHaveBeenCalled()
    const confirm = button(wrapper, 'Yes, sign out everywhere')
    expect(document.activeElement).toBe(confirm.element)
    await button(wrapper, 'Cancel').trigger('click')
    expect(spies.logoutEverywhere).not.toHaveBeenCalled()
    expect(button(wrapper, 'Sign out everywhere').exists()).toBe(true)
  })

  it('signs out everywhere once confirmed, then goes to the sign-in page, which says so', async () => {
    const { wrapper, router, spies, order } = await mountAccount()
    await button(wrapper, 'Sign out everywhere').trigger('click')
    await button(wrapper, 'Yes, sign out everywhere').trigger('click')
    await flushPromises()
    expect(order).toEqual(['disconnect', 'logoutEverywhere'])
    expect(spies.reset).toHaveBeenCalled()
    expect(router.currentRoute.value.fullPath).toBe('/login?signedOut=everywhere')
    const login = mount(LoginView, { props: { mode: 'login' }, global: { plugins: [router] } })
    expect(login.get('[role=status]').text()).toContain('You are signed out on every device.')
  })

  it('stays, with the problem shown and the stream opened again, when signing out everywhere fails', async () => {
    const { wrapper, router, spies, order } = await mountAccount()
    spies.logoutEverywhere.mockRejectedValueOnce(new ApiError(503, { status: 503, detail: 'Try later.' }))
    await button(wrapper, 'Sign out everywhere').trigger('click')
    await button(wrapper, 'Yes, sign out everywhere').trigger('click')
    await flushPromises()
    expect(order).toEqual(['disconnect', 'connect'])
    expect(wrapper.get('[role=alert]').text()).toContain('Try later.')
    expect(router.currentRoute.value.fullPath).toBe('/account')
  })
})
